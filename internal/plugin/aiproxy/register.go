// Package aiproxy is Kong's ai-proxy plugin: a route becomes an LLM
// endpoint. A client sends an OpenAI-style chat or completions request;
// the plugin checks it, adds the configured model, options and
// credentials, translates it into the configured provider's API (OpenAI,
// Azure OpenAI, Anthropic, Cohere, Mistral, Llama 2 or Ollama), calls the
// provider, and answers in OpenAI's format, with token usage and cost on
// the log entry.
package aiproxy

import "sluice/internal/plugin"

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-proxy"
	Priority = 770
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
