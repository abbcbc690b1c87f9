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
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestRequestCountingByPattern(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	for range 3 {
		a.get("/api/v2/vm")
	}
	a.get("/apps/v2/vm")
	a.get("/apps/v2/vm/some-id")
	a.get("/api/v2/vm/other-id")
	a.anonymous().get("/api/v2/vm") // 401s are counted too
	a.get("/no/such/route")
	a.delete("/apps/v2/datacenter", nil) // wrong method: unmatched
	a.get("/_sim/state")                 // admin: not counted

	g.Expect(srv.RequestCount("GET /api/v2/vm")).To(Equal(4))
	g.Expect(srv.RequestCount("GET /apps/v2/vm")).To(Equal(1))
	g.Expect(srv.RequestCount("GET /apps/v2/vm/{identifier}")).To(Equal(1))
	g.Expect(srv.RequestCount("GET /api/v2/vm/{identifier}")).To(Equal(1))
	g.Expect(srv.RequestCount("UNMATCHED")).To(Equal(2))
	g.Expect(srv.TotalRequests()).To(Equal(9))
	g.Expect(srv.Requests()).To(HaveLen(5))

	r := a.get("/no/such/route")
	g.Expect(r.errorWith(404, "Not found")).To(BeTrue())

	var stats vpsiesim.RequestStats
	g.Expect(json.Unmarshal(a.anonymous().get("/_sim/requests").Body, &stats)).To(Succeed())
	g.Expect(stats.Requests).To(HaveKeyWithValue("GET /api/v2/vm", 4))
	g.Expect(stats.Total).To(Equal(10))

	g.Expect(a.anonymous().post("/_sim/reset-counters", nil).Status).To(Equal(200))
	g.Expect(srv.TotalRequests()).To(BeZero())
	g.Expect(srv.Requests()).To(BeEmpty())
}

func TestAdminState(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.LBPendingDelay = -1 })
	a := newAPI(t, srv.URL)
	g.Expect(a.post("/api/v2/vm", createVMBody("s1", map[string]any{"vmPassword": "do-not-leak"})).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": "v", "dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/sshkey/add", map[string]string{"name": "k", "privateKey": "ssh-rsa AAAA"}).ok()).To(BeTrue())
	g.Expect(a.post("/api/v1/lb/create", map[string]any{"lbName": "lb", "resourceIdentifier": vpsiesim.DefaultLBPlan,
		"dcIdentifier": vpsiesim.DefaultDatacenter, "rules": []map[string]any{{"scheme": "tcp", "frontPort": 6443, "backPort": 6443}}}).ok()).To(BeTrue())

	r := a.anonymous().get("/_sim/state")
	g.Expect(r.Status).To(Equal(200))
	g.Expect(string(r.Body)).NotTo(ContainSubstring("do-not-leak"))
	var st struct {
		Catalog struct {
			Datacenters []map[string]any `json:"datacenters"`
			Plans       []map[string]any `json:"plans"`
			Images      []map[string]any `json:"images"`
		} `json:"catalog"`
		VMs           []map[string]any `json:"vms"`
		LoadBalancers []map[string]any `json:"loadBalancers"`
		VPCs          []map[string]any `json:"vpcs"`
		SSHKeys       []map[string]any `json:"sshKeys"`
	}
	g.Expect(json.Unmarshal(r.Body, &st)).To(Succeed())
	for _, list := range [][]map[string]any{st.Catalog.Datacenters, st.Catalog.Plans, st.Catalog.Images} {
		g.Expect(list).NotTo(BeEmpty())
		g.Expect(list[0]).To(HaveKey("identifier"))
	}
	g.Expect(st.VMs).To(HaveLen(1))
	g.Expect(st.VMs[0]).To(HaveKeyWithValue("hostname", "s1"))
	g.Expect(st.VMs[0]).To(HaveKeyWithValue("state", "running"))
	g.Expect(st.LoadBalancers).To(HaveLen(1))
	g.Expect(st.VPCs).To(HaveLen(1))
	g.Expect(st.SSHKeys).To(HaveLen(1))
	g.Expect(srv.TotalRequests()).To(Equal(4), "admin requests are not counted")
}

func TestAdminFaultsAndVMControl(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = time.Hour })
	a := newAPI(t, srv.URL)

	r := a.anonymous().post("/_sim/faults", `{"errorOKNext":1,"latency":"10ms","neverBoot":["x-*"],"rateLimitWindow":"30s"}`)
	g.Expect(r.Status).To(Equal(200), r.String())
	f := srv.Faults()
	g.Expect(f.ErrorOKNext).To(Equal(1))
	g.Expect(f.Latency).To(Equal(10 * time.Millisecond))
	g.Expect(f.RateLimitWindow).To(Equal(30 * time.Second))
	g.Expect(f.NeverBoot).To(Equal([]string{"x-*"}))
	g.Expect(a.get("/api/v2/vm").Error).To(BeTrue())
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())

	var got vpsiesim.Faults
	g.Expect(json.Unmarshal(a.anonymous().get("/_sim/faults").Body, &got)).To(Succeed())
	g.Expect(got.Latency).To(Equal(10 * time.Millisecond))
	g.Expect(a.anonymous().post("/_sim/faults", `{"htmlErrorRate":7}`).Status).To(Equal(400))
	g.Expect(a.anonymous().post("/_sim/faults", `{"latency":"soon"}`).Status).To(Equal(400))
	g.Expect(a.anonymous().post("/_sim/faults", `{}`).Status).To(Equal(200))
	g.Expect(srv.Faults()).To(Equal(vpsiesim.Faults{}))

	g.Expect(a.post("/api/v2/vm", createVMBody("slow", nil)).ok()).To(BeTrue())
	id := srv.VMsByHostname("slow")[0].Identifier
	g.Expect(a.anonymous().post("/_sim/vms/"+id+"/boot", nil).Status).To(Equal(200))
	g.Expect(findByHostname(a.get("/api/v2/vm").list(), "slow")).To(HaveLen(1))
	g.Expect(a.anonymous().post("/_sim/vms/"+id+"/boot", nil).Status).To(Equal(404))
	g.Expect(a.anonymous().post("/_sim/vms/"+id+"/vanish", nil).Status).To(Equal(200))
	g.Expect(a.get("/api/v2/vm").list()).To(BeEmpty())
	g.Expect(a.anonymous().get("/_sim/nope").Status).To(Equal(404))

	var routes []string
	g.Expect(json.Unmarshal(a.anonymous().get("/_sim/routes").Body, &routes)).To(Succeed())
	g.Expect(routes).To(ContainElements("POST /apps/v2/auth/from/api", "DELETE /api/v1/lb/{id}", "GET /api/v2/vm/{identifier}"))
}
