package pvesim

import (
	"sort"
)

// addApplianceRoutes: GET and POST /nodes/{node}/aplinfo (pve-manager
// API2/Nodes.pm aplinfo and apl_download).
func addApplianceRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/aplinfo", nil, nil, hAplinfo)
	rt.add("POST", "/nodes/{node}/aplinfo", nil, nil, hAplDownload)
}

// hAplinfo lists the appliance index (any user may): APLInfo::load_data
// keyed by template, without the pve-web-news pseudo-package.
func hAplinfo(s *Server, _ *request) (any, *apiError) {
	out := []map[string]string{}
	for _, a := range s.opts.Appliances {
		if a.Package == "pve-web-news" {
			continue
		}
		out = append(out, applianceEntry(a))
	}
	// PVE walks a Perl hash, so its order is arbitrary; ours is stable.
	sort.Slice(out, func(i, j int) bool { return out[i]["template"] < out[j]["template"] })
	return out, nil
}

// applianceEntry has the keys an aplinfo.dat record had, lower-cased, plus
// the template and source APLInfo adds.
func applianceEntry(a ApplianceSpec) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"template": a.Template, "package": a.Package, "version": a.Version, "type": a.Type, "os": a.OS,
		"section": a.Section, "architecture": a.Architecture, "headline": a.Headline,
		"description": a.Description, "maintainer": a.Maintainer, "infopage": a.Infopage,
		"manageurl": a.ManageURL, "location": a.Location, "source": a.Source,
		"sha512sum": a.SHA512Sum, "md5sum": a.MD5Sum,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func (s *Server) appliance(template string) *ApplianceSpec {
	for i := range s.opts.Appliances {
		if s.opts.Appliances[i].Template == template {
			return &s.opts.Appliances[i]
		}
	}
	return nil
}

// hAplDownload is apl_download: the template is fetched from its location
// like download-url does, always with the index's checksum (sha512 before
// md5, as download_file_from_url picks).
func hAplDownload(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	s.mu.Lock()
	defer s.mu.Unlock()
	// PVE checks Datastore.AllocateTemplate on the storage named in the
	// body before validating it; the simulator's permission hook sees only
	// path parameters, so the check runs here, after validation.
	if e := s.checkPerm(rq.auth, "/storage/"+p["storage"], "Datastore.AllocateTemplate"); e != nil {
		return nil, e
	}
	a := s.appliance(p["template"])
	if a == nil {
		return nil, paramErr1("template", "no such template")
	}
	st, e := s.storageCheckEnabled(rq.node(), p["storage"])
	if e != nil {
		return nil, e
	}
	if a.Type != "openvz" && a.Type != "lxc" {
		return nil, errf("unknown template type '%s'", a.Type)
	}
	if !st.def.content["vztmpl"] {
		return nil, errf("storage '%s' does not support templates", st.def.spec.ID)
	}
	j := &fetchJob{
		s: s, st: st, content: "vztmpl", format: "tgz", name: a.Template, url: a.Location,
		hashRequired: true, verifyCerts: true, size: templateSize(a.Template),
	}
	if m := reVztmplFile.FindStringSubmatch(a.Template); m != nil {
		j.format = vztmplFormat(m[1])
	}
	switch {
	case a.SHA512Sum != "":
		j.algo, j.want = "sha512", a.SHA512Sum
	case a.MD5Sum != "":
		j.algo, j.want = "md5", a.MD5Sum
	}
	t := s.newTask(rq.node(), TaskDownload, a.Template, rq.authID())
	s.runTask(t, j.run)
	return t.upid, nil
}
