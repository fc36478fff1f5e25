package acl

import (
	"fmt"
	"net/http"

	"sluice/internal/plugin"
)

// HeaderConsumerGroups carries the consumer's groups upstream.
const HeaderConsumerGroups = "X-Consumer-Groups"

// Kong 3.9's message for a consumer whose groups are not allowed.
const msgForbidden = "You cannot consume this service"

// ACL is one configured instance.
type ACL struct {
	deny   bool // groups is a deny list (else an allow list)
	groups map[string]struct{}
	hide   bool
	ents   plugin.Entities
	// joined keeps the X-Consumer-Groups value of consumers with more
	// than one group (shared by every instance, bounded).
	joined *joinCache
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	a := &ACL{ents: deps.Entities, groups: map[string]struct{}{}, joined: shared}
	list, _ := cfg["allow"].([]any)
	if d, _ := cfg["deny"].([]any); len(d) > 0 {
		a.deny, list = true, d
	}
	for _, g := range list {
		s, ok := g.(string)
		if !ok {
			return nil, fmt.Errorf("acl: invalid group %v", g)
		}
		a.groups[s] = struct{}{}
	}
	if len(a.groups) == 0 {
		return nil, fmt.Errorf("acl: neither allow nor deny is set")
	}
	a.hide, _ = cfg["hide_groups_header"].(bool)
	return a, nil
}

// Access allows or rejects the request by the consumer's groups.
func (a *ACL) Access(c *plugin.Ctx) {
	if c.Consumer == nil {
		if c.Credential != "" {
			c.Error(http.StatusForbidden, msgForbidden, nil)
			return
		}
		c.Error(http.StatusUnauthorized, "Unauthorized", nil)
		return
	}
	var groups []string
	if a.ents != nil {
		groups = a.ents.ConsumerGroups(c.Consumer.ID)
	}
	in := false
	for _, g := range groups {
		if _, ok := a.groups[g]; ok {
			in = true
			break
		}
	}
	if in == a.deny {
		c.Error(http.StatusForbidden, msgForbidden, nil)
		return
	}
	if a.hide {
		return
	}
	switch len(groups) {
	case 0:
		// Kong sets an empty value, which nginx treats as removal.
		c.ClearRequestHeader(HeaderConsumerGroups)
	case 1:
		c.SetRequestHeader(HeaderConsumerGroups, groups[0])
	default:
		c.SetRequestHeader(HeaderConsumerGroups, a.joined.value(c.Consumer.ID, groups))
	}
}

var _ plugin.Accessor = (*ACL)(nil)
