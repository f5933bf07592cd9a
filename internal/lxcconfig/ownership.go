package lxcconfig

import (
	"sort"
	"strings"
)

// Ownership is recorded in Proxmox tags, written in the same call that
// creates the container. Tags come back in the one cluster-wide
// /cluster/resources listing, so the operator can find its containers (also
// after a crash between the create call and the status write) without a GET
// per container.
const (
	// ManagedTag marks every container the operator owns.
	ManagedTag = "pve-operator"
	// ownerTagPrefix + the Application's UID names the owner.
	ownerTagPrefix = "pve-operator-owner."
)

// OwnerTag is the tag naming the Application with this UID as owner.
func OwnerTag(uid string) string { return ownerTagPrefix + strings.ToLower(uid) }

// OwnerOf returns the owner UID recorded in a container's tags.
func OwnerOf(tags []string) (uid string, ok bool) {
	for _, t := range tags {
		if rest, found := strings.CutPrefix(strings.ToLower(t), ownerTagPrefix); found && rest != "" {
			return rest, true
		}
	}
	return "", false
}

// IsOperatorTag reports whether a tag is one the operator manages itself.
func IsOperatorTag(t string) bool {
	t = strings.ToLower(t)
	return t == ManagedTag || strings.HasPrefix(t, ownerTagPrefix)
}

// SplitTags splits a Proxmox tag string. Proxmox accepts ';', ',' and spaces
// as separators and writes ';'.
func SplitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

// NormalizeTags lowercases, de-duplicates and sorts tags, as Proxmox does
// when it stores them; comparing anything else shows drift forever.
func NormalizeTags(tags []string) []string {
	set := map[string]struct{}{}
	for _, t := range tags {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			set[t] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// JoinTags formats tags the way Proxmox stores them.
func JoinTags(tags []string) string { return strings.Join(NormalizeTags(tags), ";") }

// Description is the human-readable ownership note written at create time.
func Description(namespace, name, uid string) string {
	return "Managed by pve-operator as Application " + namespace + "/" + name + " (uid " + uid + ").\n" +
		"Edit the Application, not this container: the operator reverts declared settings."
}
