package pvesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// principal is a user or an API token.
type principal struct {
	id       string // "root@pam" or "root@pam!operator"
	user     string
	token    string
	secret   string
	password string
	revoked  bool
	// privs granted on "/" (propagating); nil means all.
	privs map[string]bool
	// denied privileges per ACL path (applies to the path and below).
	denied map[string]map[string]bool
}

func newPrincipal(id string, privs []string) *principal {
	user, token := splitAuthID(id)
	p := &principal{id: id, user: user, token: token, denied: map[string]map[string]bool{}}
	if privs != nil {
		p.privs = map[string]bool{}
		for _, pr := range privs {
			p.privs[pr] = true
		}
	}
	return p
}

func (p *principal) allows(path, priv string) bool {
	if p.privs != nil && !p.privs[priv] {
		return false
	}
	for dp, privs := range p.denied {
		if privs[priv] && (dp == "/" || path == dp || strings.HasPrefix(path, dp+"/")) {
			return false
		}
	}
	return true
}

// hasPriv applies privilege separation: a token's rights are the token's ACL
// intersected with its user's.
func (s *Server) hasPriv(p *principal, path, priv string) bool {
	if p == nil {
		return false
	}
	if !p.allows(path, priv) {
		return false
	}
	if p.token != "" {
		if u := s.principals[p.user]; u != nil && !u.allows(path, priv) {
			return false
		}
	}
	return true
}

// checkPerm is RPCEnvironment check / check_any: 403 unless p holds one of
// privs on path.
func (s *Server) checkPerm(p *principal, path string, privs ...string) *apiError {
	for _, pr := range privs {
		if s.hasPriv(p, path, pr) {
			return nil
		}
	}
	return permErr(path + ", " + strings.Join(privs, "|"))
}

// ---- tickets ----------------------------------------------------------------

func (s *Server) ticketMAC(data string) string {
	key := append(append([]byte(nil), s.ticketKey...), []byte(strconv.Itoa(s.ticketGen))...)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// issueTicket returns a PVE-format ticket and CSRF token for user.
func (s *Server) issueTicket(user string) (ticket, csrf string) {
	hexTime := fmt.Sprintf("%08X", s.now().Unix())
	plain := "PVE:" + user + ":" + hexTime
	ticket = plain + "::" + s.ticketMAC(plain)
	csrf = hexTime + ":" + s.ticketMAC(hexTime+":"+user)
	return ticket, csrf
}

var reTicket = regexp.MustCompile(`^PVE:([^:\s]+):([0-9A-F]{8})::(.+)$`)

// verifyTicket returns the user of a valid, unexpired ticket.
func (s *Server) verifyTicket(ticket string) (string, bool) {
	m := reTicket.FindStringSubmatch(ticket)
	if m == nil {
		return "", false
	}
	plain := "PVE:" + m[1] + ":" + m[2]
	if !hmac.Equal([]byte(s.ticketMAC(plain)), []byte(m[3])) {
		return "", false
	}
	issued, _ := strconv.ParseInt(m[2], 16, 64)
	age := s.now().Unix() - issued
	if age < -300 || float64(age) >= s.opts.TicketLifetime.Seconds() {
		return "", false
	}
	return m[1], true
}

func (s *Server) verifyCSRF(token, user string) bool {
	hexTime, sig, ok := strings.Cut(token, ":")
	if !ok || len(hexTime) != 8 {
		return false
	}
	if !hmac.Equal([]byte(s.ticketMAC(hexTime+":"+user)), []byte(sig)) {
		return false
	}
	issued, err := strconv.ParseInt(hexTime, 16, 64)
	if err != nil {
		return false
	}
	age := s.now().Unix() - issued
	return age >= -300 && float64(age) < s.opts.TicketLifetime.Seconds()
}

var reAPIToken = regexp.MustCompile(`(?:^|\s)PVEAPIToken(?:=| )([^;]*)`)
var reAuthCookie = regexp.MustCompile(`(?:^|\s)PVEAuthCookie=([^;]*)`)

// authenticate is pveproxy's auth phase. Its failures are 401 with an empty
// body; the caller applies the 401 delay.
func (s *Server) authenticate(r *http.Request, rel string) (*principal, *apiError) {
	unauthorized := func(msg string) *apiError {
		return &apiError{status: http.StatusUnauthorized, msg: msg, emptyBody: true}
	}
	authz := r.Header.Get("Authorization")
	if m := reAPIToken.FindStringSubmatch(authz); m != nil {
		i := strings.LastIndex(m[1], "=")
		if i < 0 {
			return nil, unauthorized("Authentication failed!")
		}
		id, secret := m[1][:i], m[1][i+1:]
		s.mu.Lock()
		p := s.principals[id]
		ok := p != nil && p.token != "" && !p.revoked && hmac.Equal([]byte(p.secret), []byte(secret))
		s.mu.Unlock()
		if !ok {
			return nil, unauthorized("Authentication failed!")
		}
		return p, nil
	}
	if rel == "/access/ticket" && (r.Method == http.MethodPost || r.Method == http.MethodGet) {
		return nil, nil
	}
	ticket := ""
	if c, err := r.Cookie("PVEAuthCookie"); err == nil {
		ticket = c.Value
	} else if m := reAuthCookie.FindStringSubmatch(authz); m != nil {
		ticket = m[1]
	}
	if ticket == "" {
		return nil, unauthorized("No ticket")
	}
	// uri_unescape decodes %XX only: '+' in the base64 signature stays.
	if dec, err := url.PathUnescape(ticket); err == nil {
		ticket = dec
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.verifyTicket(ticket)
	if !ok {
		return nil, unauthorized("permission denied - invalid PVE ticket")
	}
	p := s.principals[user]
	if p == nil {
		return nil, unauthorized("permission denied - invalid PVE ticket")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !s.verifyCSRF(r.Header.Get("CSRFPreventionToken"), user) {
			return nil, unauthorized("Permission denied - invalid csrf token")
		}
	}
	return p, nil
}

// login is POST /access/ticket: password or a still-valid ticket (renewal).
func (s *Server) login(params map[string]string) (any, *apiError) {
	username := params["username"]
	if !strings.Contains(username, "@") && params["realm"] != "" {
		username += "@" + params["realm"]
	}
	fail := &apiError{status: http.StatusUnauthorized, msg: "authentication failure"}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.principals[username]
	if p == nil || p.token != "" {
		return nil, fail
	}
	pw := params["password"]
	valid := p.password != "" && hmac.Equal([]byte(p.password), []byte(pw))
	if !valid {
		if u, ok := s.verifyTicket(pw); ok && u == username {
			valid = true
		}
	}
	if !valid {
		return nil, fail
	}
	if path, privs := params["path"], params["privs"]; path != "" && privs != "" {
		for _, pr := range strings.Split(privs, ",") {
			if !s.hasPriv(p, path, pr) {
				return nil, fail
			}
		}
	}
	ticket, csrf := s.issueTicket(username)
	res := map[string]any{
		"username":            username,
		"ticket":              ticket,
		"CSRFPreventionToken": csrf,
		"cap":                 s.capabilities(p),
	}
	if len(s.nodeOrder) > 1 {
		res["clustername"] = s.opts.ClusterName
	}
	return res, nil
}

// capabilities renders the "cap" object of a login, grouped like PVE: the
// privileges of PVE's list (an Administrator has them all) held on "/".
func (s *Server) capabilities(p *principal) map[string]map[string]int {
	groups := map[string]string{"VM": "vms", "Datastore": "storage", "Sys": "nodes", "Pool": "dc",
		"SDN": "sdn", "User": "access", "Permissions": "access", "Realm": "access", "Group": "access", "Mapping": "mapping"}
	out := map[string]map[string]int{"vms": {}, "storage": {}, "nodes": {}, "dc": {}, "sdn": {}, "access": {}, "mapping": {}}
	for _, pr := range pveschema.Privileges {
		if !s.hasPriv(p, "/", pr) {
			continue
		}
		prefix, _, _ := strings.Cut(pr, ".")
		out[groups[prefix]][pr] = 1
	}
	return out
}
