/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package vpsiesim_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestDatacentersArePaged(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)

	all := a.get("/apps/v2/datacenter")
	g.Expect(all.ok()).To(BeTrue())
	g.Expect(all.list()).To(HaveLen(6))
	g.Expect(all.Total).To(Equal(6))
	first := all.list()[0]
	for _, k := range []string{"dc_name", "state", "country", "is_active", "identifier", "default_selected", "is_deleted", "is_private", "is_fip_available"} {
		g.Expect(first).To(HaveKey(k))
	}
	g.Expect(first).To(HaveKeyWithValue("identifier", vpsiesim.DefaultDatacenter))

	p := a.get("/apps/v2/datacenter?offset=2&limit=3")
	g.Expect(p.list()).To(HaveLen(3))
	g.Expect(p.Total).To(Equal(6))
	g.Expect(str(p.list()[0], "dc_name")).To(Equal("Amsterdam 1"))
	g.Expect(a.get("/apps/v2/datacenter?offset=5&limit=3").list()).To(HaveLen(1))
	g.Expect(a.get("/apps/v2/datacenter?offset=9").list()).To(BeEmpty())
}

func TestPlansAreFormEncodedAndFilteredByDatacenter(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)

	nicknames := func(r resp) []string {
		var out []string
		for _, p := range r.list() {
			out = append(out, str(p, "nickname"))
		}
		return out
	}
	nyc := a.post("/apps/v2/resources", url.Values{"dcIdentifier": {vpsiesim.DefaultDatacenter}, "isCustom": {"0"}})
	g.Expect(nyc.ok()).To(BeTrue(), nyc.String())
	g.Expect(nicknames(nyc)).To(ContainElements("std-2vcpu-4gb", "mem-2vcpu-16gb"))
	plan := nyc.list()[1]
	g.Expect(plan).To(HaveKeyWithValue("identifier", vpsiesim.DefaultPlan))
	for _, k := range []string{"nickname", "cpu", "ram", "ssd", "traffic", "price", "net_speed"} {
		g.Expect(plan).To(HaveKey(k))
	}
	tor := a.post("/apps/v2/resources", url.Values{"dcIdentifier": {"dc000000-0000-4000-8000-000000000002"}})
	g.Expect(nicknames(tor)).NotTo(ContainElement("mem-2vcpu-16gb"))

	cats := a.get("/api/v2/plans/category").list()
	g.Expect(cats).To(HaveLen(3))
	cpuOnly := a.post("/apps/v2/resources", url.Values{"dcIdentifier": {vpsiesim.DefaultDatacenter}, "planCatIdentifier": {str(cats[1], "identifier")}})
	g.Expect(nicknames(cpuOnly)).To(Equal([]string{"cpu-4vcpu-8gb"}))

	// JSON is not what this endpoint reads.
	r := a.post("/apps/v2/resources", map[string]string{"dcIdentifier": vpsiesim.DefaultDatacenter})
	g.Expect(r.errorWith(400, "dcIdentifier is required")).To(BeTrue(), r.String())
	r = a.post("/apps/v2/resources", url.Values{"dcIdentifier": {"nope"}})
	g.Expect(r.errorWith(400, "Invalid datacenter")).To(BeTrue())
	r = a.post("/apps/v2/resources", url.Values{"dcIdentifier": {vpsiesim.DefaultDatacenter}, "osIdentifier": {"nope"}})
	g.Expect(r.errorWith(400, "Invalid OS identifier")).To(BeTrue())
}

func TestImagesAndLBCatalogue(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)

	imgs := a.get("/apps/v2/custom/images").list()
	g.Expect(imgs).To(HaveLen(2))
	g.Expect(imgs[0]).To(HaveKeyWithValue("identifier", vpsiesim.DefaultCustomImage))
	g.Expect(imgs[0]).To(HaveKeyWithValue("dcIdentifier", vpsiesim.DefaultDatacenter))
	g.Expect(imgs[0]).To(HaveKey("original_name"))
	g.Expect(imgs[0]).To(HaveKey("image_label"))

	offers := a.post("/api/v1/lb/offers", map[string]string{"dcIdentifier": vpsiesim.DefaultDatacenter})
	g.Expect(offers.list()).To(HaveLen(2))
	g.Expect(offers.list()[0]).To(HaveKeyWithValue("identifier", vpsiesim.DefaultLBPlan))
	sg := a.post("/api/v1/lb/offers", map[string]string{"dcIdentifier": "dc000000-0000-4000-8000-000000000005"})
	g.Expect(sg.ok()).To(BeTrue())
	g.Expect(sg.list()).To(BeEmpty())
	g.Expect(a.post("/api/v1/lb/offers", map[string]string{}).errorWith(400, "Invalid datacenter")).To(BeTrue())
	g.Expect(a.get("/api/v1/lb/datacenter").list()).To(HaveLen(4))
}

func TestCatalogAccessorsAndFile(t *testing.T) {
	g := NewWithT(t)
	cat := vpsiesim.DefaultCatalog()
	g.Expect(cat.Validate()).To(Succeed())
	dc, ok := cat.Datacenter("frankfurt 1")
	g.Expect(ok).To(BeTrue())
	g.Expect(dc.Identifier).To(Equal("dc000000-0000-4000-8000-000000000004"))
	p, ok := cat.Plan("std-2vcpu-4gb")
	g.Expect(ok).To(BeTrue())
	g.Expect(p.Identifier).To(Equal(vpsiesim.DefaultPlan))
	im, _ := cat.Image(vpsiesim.DefaultImage)
	g.Expect(im.Name).To(Equal("Ubuntu 24.04 x64"))
	lp, _ := cat.LBPlan("lb-small")
	g.Expect(lp.Identifier).To(Equal(vpsiesim.DefaultLBPlan))

	custom := vpsiesim.Catalog{
		Datacenters: []vpsiesim.Datacenter{{Identifier: "dc-a", Name: "A"}},
		Plans:       []vpsiesim.Plan{{Identifier: "plan-a", Nickname: "small", CPU: 1, RAM: 512, SSD: 10}},
		Images:      []vpsiesim.Image{{Identifier: "img-a", Name: "Linux"}},
	}
	b, _ := json.Marshal(custom)
	path := filepath.Join(t.TempDir(), "catalog.json")
	g.Expect(os.WriteFile(path, b, 0o600)).To(Succeed())
	loaded, err := vpsiesim.LoadCatalog(path)
	g.Expect(err).NotTo(HaveOccurred())
	srv := newSim(t, func(o *vpsiesim.Options) { o.Catalog = loaded; o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	g.Expect(a.get("/apps/v2/datacenter").list()).To(HaveLen(1))
	r := a.post("/api/v2/vm", createVMBody("c", map[string]any{"dcIdentifier": "dc-a", "resourceIdentifier": "plan-a", "osIdentifier": "img-a"}))
	g.Expect(r.ok()).To(BeTrue(), r.String())
	g.Expect(srv.VMsByHostname("c")[0].RAM).To(Equal(512))
	g.Expect(srv.Catalog().Datacenters[0].ID).To(Equal(1))

	bad := vpsiesim.Catalog{Plans: []vpsiesim.Plan{{Identifier: "p", Datacenters: []string{"missing"}}}}
	g.Expect(bad.Validate()).To(MatchError(ContainSubstring("unknown datacenter")))
	g.Expect(vpsiesim.Options{VMPrefixes: []string{"api/v2/"}}.Validate()).NotTo(Succeed())
}
