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

// OwnerOf returns the owner UID recorded in a container's tags. tagged is
// true when any owner tag is present; uid is empty when the tags name more
// than one owner. Such a container was tampered with (or is contested), so
// it belongs to nobody: the operator never acts on it for any Application.
func OwnerOf(tags []string) (uid string, tagged bool) {
	for _, t := range tags {
		rest, found := strings.CutPrefix(strings.ToLower(t), ownerTagPrefix)
		if !found || rest == "" {
			continue
		}
		if tagged && rest != uid {
			return "", true
		}
		uid, tagged = rest, true
	}
	return uid, tagged
}

// OwnedBy reports whether the tags name exactly the Application with this
// UID as owner: the only proof of ownership the operator accepts.
func OwnedBy(tags []string, uid string) bool {
	owner, tagged := OwnerOf(tags)
	return tagged && owner != "" && owner == strings.ToLower(uid)
}

// IsOperatorTag reports whether a tag is one the operator manages itself.
// Anything starting with the operator's prefix counts, so a look-alike such
// as "pve-operator-ownerx" cannot be smuggled in as a user tag either.
func IsOperatorTag(t string) bool {
	return strings.HasPrefix(strings.ToLower(t), ManagedTag)
}

// UserTags drops the operator's own tags: whatever a spec or a container
// says, only the operator writes its markers.
func UserTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if !IsOperatorTag(t) {
			out = append(out, t)
		}
	}
	return out
}

// WithOwner is tags with the operator's markers for the Application uid.
func WithOwner(tags []string, uid string) []string {
	return append(UserTags(tags), ManagedTag, OwnerTag(uid))
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
