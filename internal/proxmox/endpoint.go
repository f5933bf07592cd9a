package proxmox

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Endpoint is a parsed PVE API address. Admins write it in several forms
// (with or without a trailing slash, with or without /api2/json); every
// form of one address parses to the same Endpoint, so the API client and
// anything else derived from the address (the SSH host of provisioning)
// agree on it.
type Endpoint struct {
	apiURL string
	host   string
}

// ParseEndpoint validates s (an https URL with a host and no credentials)
// and normalises it: query and fragment are dropped, a trailing slash is
// ignored and /api2/json is appended unless it is already the path's end.
// A path prefix before it (a reverse proxy's) is kept.
func ParseEndpoint(s string) (Endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return Endpoint{}, fmt.Errorf("parse endpoint: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q must be an https URL with a host", s)
	}
	if u.User != nil {
		return Endpoint{}, errors.New("endpoint must not carry credentials")
	}
	u.RawQuery, u.Fragment = "", ""
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/api2/json") {
		path += "/api2/json"
	}
	u.Path = path
	return Endpoint{apiURL: u.String(), host: u.Hostname()}, nil
}

// APIURL is the base URL API paths are appended to, ending in /api2/json.
func (e Endpoint) APIURL() string { return e.apiURL }

// Host is the endpoint's host name or address, without port or brackets.
func (e Endpoint) Host() string { return e.host }

// String returns APIURL.
func (e Endpoint) String() string { return e.apiURL }
