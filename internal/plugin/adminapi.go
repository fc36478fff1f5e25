package plugin

import (
	"context"
	"net/url"

	"sluice/internal/model"
)

// AdminEndpoint is an Admin API path a plugin serves, like the api.lua file
// of a Kong plugin (kong/plugins/proxy-cache/api.lua). The Admin API adds
// the endpoints of every enabled plugin to its router next to the entity
// paths; a plugin endpoint must not shadow an entity path.
type AdminEndpoint struct {
	// Pattern is the path in Kong's form, parameters in braces:
	// "/proxy-cache/{cache_key}".
	Pattern string
	// Methods maps an HTTP method (GET, POST, PUT, PATCH, DELETE) to its
	// handler. HEAD and OPTIONS are answered by the Admin API.
	Methods map[string]AdminHandler
}

// AdminHandler answers one request to a plugin endpoint with a status and
// a body, sent as JSON (Kong's kong.response.exit(status, body)). A nil
// body sends none (Content-Length: 0). An error is answered like the Admin
// API's own failures (500 with a message, logged).
type AdminHandler func(ctx context.Context, req *AdminRequest) (status int, body any, err error)

// AdminRequest is what a plugin endpoint handler sees of a request.
type AdminRequest struct {
	// Params are the path parameters by name, unescaped.
	Params map[string]string
	// Body is the request body (POST, PUT, PATCH), nil otherwise.
	Body []byte
	// Input is Body decoded as the Admin API decodes entities: JSON as
	// sent, form and multipart bodies through Kong's key syntax (dotted
	// keys for records; their values are strings). Nil without a body.
	Input map[string]any
	// Query is the request's query string.
	Query url.Values
	// Plugins returns the entities of this plugin in the configuration
	// (the database in embedded and postgres mode, the served
	// declarative configuration in DB-less mode), like Kong's
	// kong.db.plugins:each() filtered by name. Disabled entities are
	// included, as in Kong.
	Plugins func(ctx context.Context) ([]*model.Plugin, error)
	// Plugin returns the plugin entity with this id, whatever its name,
	// or nil when there is none (Kong's kong.db.plugins:select).
	Plugin func(ctx context.Context, id string) (*model.Plugin, error)
}
