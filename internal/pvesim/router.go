package pvesim

import (
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
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
	schema   *pveschema.Method
	// perm is checked after routing with the path and body parameters
	// merged, before they are validated: PVE's rest_handler calls
	// check_api2_permissions before the method's handle() validates.
	perm func(s *Server, rq *request) *apiError
	// noNode marks routes without a {node} to proxy to.
	key string // "GET /nodes/{node}/lxc" — the counter key
}

type router struct {
	routes []*route
}

// add registers a method. Its parameter schema comes from PVE's schema
// file whenever the file has the method; props are only for the few
// methods it lacks (handWrittenSchemas in the pveschema tests lists them),
// which also get their path parameters.
func (rt *router) add(method, template string, props map[string]*pveschema.Prop, perm func(*Server, *request) *apiError, h handlerFunc) {
	m, inFile := pveschema.Lookup(method, pveTemplate(template))
	switch {
	case inFile && props != nil:
		// The file's schema would win and the hand-written one never run.
		panic("pvesim: hand-written parameters for " + method + " " + template + ", which the schema file describes")
	case !inFile:
		m = pveschema.NewMethod(method, pveTemplate(template), props)
		addPathParams(m, template)
	}
	rt.routes = append(rt.routes, &route{
		method: method, template: template, segs: splitPath(template),
		handler: h, schema: m, perm: perm, key: method + " " + template,
	})
}

// pveTemplate writes a route template the way PVE's schema file does: a
// rest-of-path parameter "{volume...}" is plain "{volume}" there.
func pveTemplate(template string) string { return strings.ReplaceAll(template, "...}", "}") }

// addPathParams adds the path parameters to a hand-written schema, as
// they are part of every method's schema in PVE.
func addPathParams(m *pveschema.Method, template string) {
	for _, seg := range splitPath(template) {
		if strings.HasPrefix(seg, "{") {
			name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
			if _, ok := m.Props[name]; !ok {
				m.Props[name] = pathParamSpec(name)
			}
		}
	}
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

// Routes lists the API methods the simulator serves as "METHOD template",
// with templates written the way PVE's schema file writes them.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.router.routes))
	for _, r := range s.router.routes {
		out = append(out, r.method+" "+pveTemplate(r.template))
	}
	return out
}
