package session

import (
	"slices"

	"sluice/internal/plugin"
)

// maxLogoutBody bounds the request body read to find logout_post_arg.
const maxLogoutBody = 1 << 20

// isLogout reports whether the request asks to log out (Kong's
// session.logout): its method is one of logout_methods, and it carries the
// logout_query_arg query argument, or, with read_body_for_logout, the
// logout_post_arg body argument (form, multipart or JSON; any value but
// false).
func (s *Session) isLogout(c *plugin.Ctx) bool {
	if !slices.Contains(s.logoutMethods, c.Request.Method) {
		return false
	}
	if s.logoutQueryArg != "" && c.Request.URL.RawQuery != "" {
		if _, ok := c.Query()[s.logoutQueryArg]; ok {
			return true
		}
	}
	if !s.readBodyForLogout || s.logoutPostArg == "" {
		return false
	}
	body, complete := plugin.ReadBody(c.Request, maxLogoutBody)
	if !complete {
		return false
	}
	args, err := plugin.BodyArgs(c.Request.Header.Get("Content-Type"), body)
	if err != nil {
		return false
	}
	m, _ := args.(map[string]any)
	v, ok := m[s.logoutPostArg]
	return ok && v != false
}
