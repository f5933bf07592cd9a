package lxcconfig

import "testing"

func TestCloneMarkers(t *testing.T) {
	const other = "99999999-aaaa-bbbb-cccc-0123456789ab"
	ours := Description("team-a", "web1", uid)
	theirs := Description("team-b", "db", other)
	cases := []struct {
		name        string
		description string
		mine, other bool
	}{
		{"the description the operator writes names its Application", ours, true, false},
		{"another Application's marker is another's", theirs, false, true},
		{"only the last marker counts, so one copied into the user's text above ours names nobody", theirs + "\n\nnotes\n\n" + ours, true, false},
		{"a description without a marker names nobody", "hand-made container", false, false},
		{"a marker without a uid names nobody", "Managed by pve-operator as Application x/y.", false, false},
		{"the uid is compared case-insensitively", Description("team-a", "web1", "0B1C2D3E-AAAA-BBBB-CCCC-0123456789AB"), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := MarkedFor(c.description, uid); got != c.mine {
				t.Errorf("MarkedFor = %v, want %v", got, c.mine)
			}
			if got := MarkedForOther(c.description, uid); got != c.other {
				t.Errorf("MarkedForOther = %v, want %v", got, c.other)
			}
		})
	}
}

func TestCloneTagsReplaceTheSourceOwnersTags(t *testing.T) {
	const source = "11111111-aaaa-bbbb-cccc-0123456789ab"
	got := CloneTags(JoinTags(WithOwner([]string{"web", "prod"}, source)), uid)
	want := JoinTags(WithOwner([]string{"web", "prod"}, uid))
	if got != want {
		t.Fatalf("CloneTags = %q, want %q", got, want)
	}
	if owner, _ := OwnerOf(SplitTags(got)); owner != uid {
		t.Fatalf("owner after the fix is %q, want %q", owner, uid)
	}
}
