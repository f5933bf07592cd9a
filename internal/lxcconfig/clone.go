package lxcconfig

import "strings"

// A clone starts life with a copy of its source's config, the source's
// ownership tags included, and PVE's clone call takes no tags. What the
// call does take is a description, which PVE writes into the new config
// in the same step that reserves the VMID (with lock "create"), before it
// answers and before anything else can see the container. The clone's
// description therefore carries its owner's marker, and the marker is what
// proves a clone is an Application's until the operator has replaced the
// copied tags with the owner's (OwnedBy), and what keeps the source's
// owner from taking a container that merely carries its tag.

// markerLead starts the ownership line Description writes.
const markerLead = "Managed by pve-operator as Application "

// MarkerOwner returns the UID the description's ownership marker names,
// and whether there is one. Only the last marker counts: the operator
// keeps its own beneath whatever a user writes, so a marker copied into
// the user's text above it names nobody.
func MarkerOwner(description string) (uid string, ok bool) {
	i := strings.LastIndex(description, markerLead)
	if i < 0 {
		return "", false
	}
	line, _, _ := strings.Cut(description[i+len(markerLead):], "\n")
	_, rest, found := strings.Cut(line, "(uid ")
	if !found {
		return "", false
	}
	uid, _, found = strings.Cut(rest, ")")
	if !found || uid == "" {
		return "", false
	}
	return strings.ToLower(uid), true
}

// MarkedFor reports whether the description's marker names the
// Application with this UID.
func MarkedFor(description, uid string) bool {
	owner, ok := MarkerOwner(description)
	return ok && owner == strings.ToLower(uid)
}

// MarkedForOther reports whether the description's marker names an
// Application other than uid: such a container is never uid's, whatever
// tags it carries (a clone of uid's container before its tags are fixed).
func MarkedForOther(description, uid string) bool {
	owner, ok := MarkerOwner(description)
	return ok && owner != strings.ToLower(uid)
}

// CloneTags are the tags that make a clone its owner's: the user tags it
// was cloned with, the source's operator tags replaced by uid's.
func CloneTags(observed, uid string) string {
	return JoinTags(WithOwner(SplitTags(observed), uid))
}
