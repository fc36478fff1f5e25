// Package airequesttransformer is Kong's ai-request-transformer plugin:
// before a request goes upstream, its body is sent to an LLM with the
// configured instructions, and the LLM's answer becomes the new body.
package airequesttransformer

import (
	"net/http"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-request-transformer"
	Priority = 777
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}

// Schema is ai-request-transformer's config record (Kong 3.9).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields:    plugin.AITransformerFields("Use this prompt to tune the LLM system/assistant message for the incoming proxy request (from the client), and what you are expecting in return."),
	Checks:    []*model.Check{{Custom: &model.CustomCheck{Fn: plugin.AITransformerChecks}}},
}

// Transformer is one plugin instance.
type Transformer struct {
	plugin.AITransformer
	conf plugin.AITransformerConfig
}

// New builds an instance from a processed config record.
func New(rec map[string]any, deps plugin.Deps) (any, error) {
	t := &Transformer{}
	var err error
	t.AITransformer, err = plugin.NewAITransformer(rec, deps, &t.conf, func() *plugin.AITransformerConfig { return &t.conf })
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Access sends the request body to the LLM and sets its answer as the
// body the upstream gets (the Content-Type is kept).
func (t *Transformer) Access(c *plugin.Ctx) {
	raw, complete := plugin.ReadBody(c.Request, plugin.LLMBodyLimit(t.conf.MaxRequestBodySize))
	var input *string
	if complete { // Kong's get_raw_body gives nothing for a body over the limit
		s := string(raw)
		input = &s
	}
	pattern := ""
	if t.conf.Pattern != nil {
		pattern = *t.conf.Pattern
	}
	res, err := plugin.LLMIntrospect(c.Request.Context(), t.Client, &t.conf.LLM.Model, t.conf.LLM.Auth, t.conf.Prompt, input, pattern)
	if err != nil {
		t.Log.Info("ai-request-transformer: " + err.Error())
		c.Terminate(plugin.LLMError(http.StatusBadRequest, err.Error()))
		return
	}
	if t.conf.LLM.Logging.LogStatistics {
		plugin.LogAIStats(c, Name, t.ID, &t.conf.LLM.Model, t.conf.LLM.Logging.LogPayloads, res)
	}
	plugin.SetRequestBody(c.Request, []byte(res.Content))
}
