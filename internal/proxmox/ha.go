package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// HAManager reads and writes Proxmox' HA configuration: resources
// (/cluster/ha/resources) and rules (/cluster/ha/rules). Writing needs
// Sys.Console on /; a missing resource or rule is a NotFoundError.
type HAManager interface {
	HAResource(ctx context.Context, sid string) (HAResource, error)
	CreateHAResource(ctx context.Context, res HAResource) error
	// UpdateHAResource sets the options in set and removes those in
	// remove, if the configuration still has digest (when not empty).
	UpdateHAResource(ctx context.Context, sid string, set map[string]string, remove []string, digest string) error
	// DeleteHAResource with purge also removes the resource from the rules
	// naming it (and rules left with no resource).
	DeleteHAResource(ctx context.Context, sid string, purge bool) error
	HARule(ctx context.Context, id string) (HARule, error)
	CreateHARule(ctx context.Context, rule HARule) error
	// UpdateHARule writes every field of rule (nodes, strict, resources,
	// comment), if the rules still have digest (when not empty).
	UpdateHARule(ctx context.Context, rule HARule, digest string) error
	DeleteHARule(ctx context.Context, id string) error
}

// HAResource is one section of PVE's resources.cfg.
type HAResource struct {
	// SID is "ct:<vmid>".
	SID string
	// State is what HA keeps the guest in: started, stopped, disabled,
	// ignored ("" on create: PVE's default, started).
	State       string
	MaxRestart  *int
	MaxRelocate *int
	Comment     string
	// Digest is the resources file's, as read.
	Digest string
}

// HARule is one node-affinity section of PVE's rules.cfg.
type HARule struct {
	ID string
	// Type is node-affinity (the only kind this client writes).
	Type      string
	Resources []string
	Nodes     []HANode
	Strict    bool
	Comment   string
	// Errors are PVE's feasibility complaints about the rule, by option.
	Errors map[string]string
	Digest string
}

// HANode is a node of a node-affinity rule with its priority.
type HANode struct {
	Name     string
	Priority int
}

// ContainerSID is the HA resource ID of container vmid.
func ContainerSID(vmid int) string { return "ct:" + strconv.Itoa(vmid) }

func haResourcePath(sid string) string { return "/cluster/ha/resources/" + url.PathEscape(sid) }

func haRulePath(id string) string { return "/cluster/ha/rules/" + url.PathEscape(id) }

// HAResource reads one HA resource.
func (c *APIClient) HAResource(ctx context.Context, sid string) (HAResource, error) {
	var raw struct {
		SID         string `json:"sid"`
		State       string `json:"state"`
		MaxRestart  *num   `json:"max_restart"`
		MaxRelocate *num   `json:"max_relocate"`
		Comment     string `json:"comment"`
		Digest      string `json:"digest"`
	}
	if err := c.get(ctx, haResourcePath(sid), &raw); err != nil {
		return HAResource{}, fmt.Errorf("read HA resource %s: %w", sid, err)
	}
	out := HAResource{SID: raw.SID, State: raw.State, Comment: raw.Comment, Digest: raw.Digest}
	if raw.MaxRestart != nil {
		n := raw.MaxRestart.int()
		out.MaxRestart = &n
	}
	if raw.MaxRelocate != nil {
		n := raw.MaxRelocate.int()
		out.MaxRelocate = &n
	}
	return out, nil
}

// CreateHAResource adds a guest to HA.
func (c *APIClient) CreateHAResource(ctx context.Context, res HAResource) error {
	body := map[string]any{"sid": res.SID}
	if res.State != "" {
		body["state"] = res.State
	}
	if res.MaxRestart != nil {
		body["max_restart"] = *res.MaxRestart
	}
	if res.MaxRelocate != nil {
		body["max_relocate"] = *res.MaxRelocate
	}
	if res.Comment != "" {
		body["comment"] = res.Comment
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/cluster/ha/resources", body: body}); err != nil {
		return fmt.Errorf("add HA resource %s: %w", res.SID, err)
	}
	return nil
}

// UpdateHAResource changes an HA resource.
func (c *APIClient) UpdateHAResource(ctx context.Context, sid string, set map[string]string, remove []string, digest string) error {
	body := map[string]any{}
	for k, v := range set {
		body[k] = v
	}
	if len(remove) > 0 {
		body["delete"] = strings.Join(remove, ",")
	}
	if digest != "" {
		body["digest"] = digest
	}
	if err := c.do(ctx, request{method: http.MethodPut, path: haResourcePath(sid), body: body}); err != nil {
		return fmt.Errorf("update HA resource %s: %w", sid, err)
	}
	return nil
}

// DeleteHAResource takes a guest out of HA. Options go in the query
// string: PVE rejects a body on DELETE.
func (c *APIClient) DeleteHAResource(ctx context.Context, sid string, purge bool) error {
	path := haResourcePath(sid) + "?purge=" + strconv.Itoa(b01(purge))
	if err := c.do(ctx, request{method: http.MethodDelete, path: path}); err != nil {
		return fmt.Errorf("remove HA resource %s: %w", sid, err)
	}
	return nil
}

// HARule reads one HA rule.
func (c *APIClient) HARule(ctx context.Context, id string) (HARule, error) {
	var raw struct {
		Rule      string            `json:"rule"`
		Type      string            `json:"type"`
		Resources string            `json:"resources"`
		Nodes     string            `json:"nodes"`
		Strict    flag              `json:"strict"`
		Comment   string            `json:"comment"`
		Errors    map[string]string `json:"errors"`
		Digest    string            `json:"digest"`
	}
	if err := c.get(ctx, haRulePath(id), &raw); err != nil {
		return HARule{}, fmt.Errorf("read HA rule %s: %w", id, err)
	}
	return HARule{
		ID: raw.Rule, Type: raw.Type, Resources: splitList(raw.Resources), Nodes: parseHANodes(raw.Nodes),
		Strict: bool(raw.Strict), Comment: raw.Comment, Errors: raw.Errors, Digest: raw.Digest,
	}, nil
}

// CreateHARule adds a node-affinity rule.
func (c *APIClient) CreateHARule(ctx context.Context, rule HARule) error {
	body := haRuleBody(rule)
	body["rule"] = rule.ID
	if err := c.do(ctx, request{method: http.MethodPost, path: "/cluster/ha/rules", body: body}); err != nil {
		return fmt.Errorf("add HA rule %s: %w", rule.ID, err)
	}
	return nil
}

// UpdateHARule rewrites a node-affinity rule.
func (c *APIClient) UpdateHARule(ctx context.Context, rule HARule, digest string) error {
	body := haRuleBody(rule)
	if digest != "" {
		body["digest"] = digest
	}
	if err := c.do(ctx, request{method: http.MethodPut, path: haRulePath(rule.ID), body: body}); err != nil {
		return fmt.Errorf("update HA rule %s: %w", rule.ID, err)
	}
	return nil
}

// DeleteHARule removes a rule. PVE does not complain about a missing one.
func (c *APIClient) DeleteHARule(ctx context.Context, id string) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: haRulePath(id)}); err != nil {
		return fmt.Errorf("remove HA rule %s: %w", id, err)
	}
	return nil
}

func haRuleBody(rule HARule) map[string]any {
	typ := rule.Type
	if typ == "" {
		typ = "node-affinity"
	}
	body := map[string]any{
		"type": typ, "resources": strings.Join(rule.Resources, ","),
		"nodes": FormatHANodes(rule.Nodes), "strict": b01(rule.Strict),
	}
	if rule.Comment != "" {
		body["comment"] = rule.Comment
	}
	return body
}

// FormatHANodes is PVE's pve-ha-node-list: node[:priority],... sorted by
// name, priority 0 left out.
func FormatHANodes(nodes []HANode) string {
	sorted := append([]HANode(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	parts := make([]string, 0, len(sorted))
	for _, n := range sorted {
		if n.Priority != 0 {
			parts = append(parts, n.Name+":"+strconv.Itoa(n.Priority))
		} else {
			parts = append(parts, n.Name)
		}
	}
	return strings.Join(parts, ",")
}

func parseHANodes(s string) []HANode {
	var out []HANode
	for _, f := range splitList(s) {
		name, prio, _ := strings.Cut(f, ":")
		p, _ := strconv.Atoi(prio)
		out = append(out, HANode{Name: name, Priority: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
