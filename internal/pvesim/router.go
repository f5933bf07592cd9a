package pvesim

import (
	"strings"
)

// handlerFunc serves one API method. It returns the "data" value or an
// *apiError.
type handlerFunc func(s *Server, rq *request) (any, *apiError)

// route is one API method: a path template such as
// "/nodes/{node}/lxc/{vmid}/config" (a final "{name...}" captures the rest
// of the path, slashes included).
type route struct {
	method   string
	template string
	segs     []string
	handler  handlerFunc
	schema   *schema
	// perm is checked after routing with the path parameters, before the
	// body is validated, like check_api2_permissions.
	perm func(s *Server, rq *request) *apiError
	// noNode marks routes without a {node} to proxy to.
	key string // "GET /nodes/{node}/lxc" — the counter key
}

type router struct {
	routes []*route
}

func (rt *router) add(method, template string, sc *schema, perm func(*Server, *request) *apiError, h handlerFunc) {
	if sc == nil {
		sc = newSchema(nil)
	}
	// Path parameters are part of every method's schema, as in PVE.
	for _, seg := range splitPath(template) {
		if strings.HasPrefix(seg, "{") {
			name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
			if _, ok := sc.props[name]; !ok {
				sc.props[name] = pathParamSpec(name)
			}
		}
	}
	rt.routes = append(rt.routes, &route{
		method: method, template: template, segs: splitPath(template),
		handler: h, schema: sc, perm: perm, key: method + " " + template,
	})
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for method and path. pathMatched reports whether
// any method exists for the path (unused by PVE, which answers 501 either way).
func (rt *router) match(method, path string) (*route, map[string]string) {
	segs := splitPath(path)
	for _, r := range rt.routes {
		if r.method != method {
			continue
		}
		if params, ok := matchSegs(r.segs, segs); ok {
			return r, params
		}
	}
	return nil, nil
}

func matchSegs(tmpl, segs []string) (map[string]string, bool) {
	var params map[string]string
	for i, t := range tmpl {
		if strings.HasSuffix(t, "...}") {
			if i >= len(segs) {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.TrimSuffix(t[1:], "...}")] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[t[1:len(t)-1]] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	if len(tmpl) != len(segs) {
		return nil, false
	}
	return params, true
}
