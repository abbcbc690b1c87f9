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
	"net/netip"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestVPCLifecycle(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)

	create := map[string]any{"name": "cluster-a-vpc", "description": "d", "dcIdentifier": vpsiesim.DefaultDatacenter,
		"networkRange": "10.20.0.0", "networkSize": "24", "autoGenerate": 0}
	r := a.post("/apps/v2/vpc/add", create)
	g.Expect(r.ok()).To(BeTrue(), r.String())
	g.Expect(r.dataIs("true")).To(BeTrue(), "no id returned")
	g.Expect(a.post("/apps/v2/vpc/add", create).errorWith(400, "overlaps")).To(BeTrue())
	g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": "auto", "dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": "x", "dcIdentifier": vpsiesim.DefaultDatacenter, "networkRange": "8.8.8.0", "networkSize": 24}).errorWith(400, "private")).To(BeTrue())
	g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": "x", "dcIdentifier": "nope", "autoGenerate": 1}).errorWith(400, "dcIdentifier")).To(BeTrue())
	g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).errorWith(400, "name is required")).To(BeTrue())

	// Found by name.
	var vpc map[string]any
	for _, v := range a.get("/apps/v2/vpc").list() {
		if str(v, "name") == "cluster-a-vpc" {
			vpc = v
		}
	}
	g.Expect(vpc).NotTo(BeNil())
	g.Expect(vpc).To(HaveKeyWithValue("network_range", "10.20.0.0"))
	g.Expect(vpc).To(HaveKeyWithValue("dc_identifier", vpsiesim.DefaultDatacenter))
	vpcID := int(num(vpc, "id"))
	vpcPath := "/apps/v2/vpc/" + itoa(vpcID)
	g.Expect(a.get(vpcPath).object()).To(HaveKeyWithValue("name", "cluster-a-vpc"))
	g.Expect(a.get("/apps/v2/vpc/999").errorWith(404, "VPC not found")).To(BeTrue())

	g.Expect(a.post("/api/v2/vm", createVMBody("cp-0", nil)).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm", createVMBody("other-dc", map[string]any{"dcIdentifier": "dc000000-0000-4000-8000-000000000002"})).ok()).To(BeTrue())
	vm := srv.VMsByHostname("cp-0")[0]
	other := srv.VMsByHostname("other-dc")[0]

	attach := map[string]any{"vmIdentifier": vm.Identifier, "vpcId": vpcID, "dcIdentifier": vpsiesim.DefaultDatacenter}
	g.Expect(a.post("/apps/v2/vm/add/vpc", attach).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/vm/add/vpc", attach).errorWith(400, "already attached")).To(BeTrue())
	g.Expect(a.post("/apps/v2/vm/add/vpc", map[string]any{"vmIdentifier": other.Identifier, "vpcId": itoa(vpcID)}).errorWith(400, "different datacenters")).To(BeTrue())
	g.Expect(a.post("/apps/v2/vm/add/vpc", map[string]any{"vmIdentifier": vm.Identifier, "vpcId": "999"}).errorWith(404, "VPC not found")).To(BeTrue())

	listed := findByHostname(a.get("/api/v2/vm").list(), "cp-0")[0]
	ip := netip.MustParseAddr(str(listed, "private_ip"))
	g.Expect(netip.MustParsePrefix("10.20.0.0/24").Contains(ip)).To(BeTrue())
	detail := a.get("/api/v2/vm/" + vm.Identifier).object()
	pips := detail["privateIpData"].([]any)
	g.Expect(pips).To(HaveLen(1))
	pip := pips[0].(map[string]any)
	g.Expect(pip).To(HaveKeyWithValue("vpc_id", float64(vpcID)))
	g.Expect(a.get(vpcPath).object()["vms"]).To(HaveLen(1))
	g.Expect(srv.VPCs()[0].VMs).To(Equal([]string{vm.Identifier}))

	reason := map[string]any{"deleteStatistic": map[string]string{"reason": "cluster deleted"}}
	g.Expect(a.delete(vpcPath, reason).errorWith(400, "attached")).To(BeTrue())
	g.Expect(a.delete(vpcPath, map[string]any{}).errorWith(400, "reason")).To(BeTrue())

	g.Expect(a.delete("/apps/v2/vm/vpc", map[string]any{"vmIdentifier": vm.Identifier, "privateIpId": 1}).errorWith(404, "Private IP not found")).To(BeTrue())
	g.Expect(a.delete("/apps/v2/vm/vpc", map[string]any{"vmIdentifier": vm.Identifier, "privateIpId": pip["id"]}).ok()).To(BeTrue())
	g.Expect(findByHostname(a.get("/api/v2/vm").list(), "cp-0")[0]["private_ip"]).To(BeNil())

	g.Expect(a.delete(vpcPath, reason).ok()).To(BeTrue())
	g.Expect(a.delete(vpcPath, reason).errorWith(404, "VPC not found")).To(BeTrue())
	g.Expect(srv.VPCs()).To(HaveLen(1))
}

func TestLoadBalancerLifecycle(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.LBPendingDelay = time.Second })
	a := newAPI(t, srv.URL)

	create := map[string]any{
		"lbName": "cluster-a-apiserver", "algorithm": "roundrobin", "resourceIdentifier": vpsiesim.DefaultLBPlan,
		"dcIdentifier": vpsiesim.DefaultDatacenter, "redirectHTTP": 0, "cookieCheck": "0", "cookieName": "",
		"rules": []map[string]any{{"scheme": "tcp", "frontPort": "6443", "backPort": "6443",
			"backends": []map[string]string{{"ip": "198.18.0.10", "vmIdentifier": "vm-a"}}}},
	}
	r := a.post("/api/v1/lb/create", create)
	g.Expect(r.ok()).To(BeTrue(), r.String())
	g.Expect(r.dataIs("true")).To(BeTrue(), "no id returned")

	pending := a.get("/api/v2/lbs/pending").list()
	g.Expect(pending).To(HaveLen(1))
	g.Expect(pending[0]["data"]).To(HaveKeyWithValue("lbName", "cluster-a-apiserver"))
	g.Expect(a.get("/api/v1/lb/all").list()).To(BeEmpty())

	// Found by name once active.
	var lb map[string]any
	g.Eventually(func() map[string]any {
		for _, l := range a.get("/api/v1/lb/all").list() {
			if str(l, "lbName") == "cluster-a-apiserver" {
				lb = l
			}
		}
		return lb
	}, 10*time.Second, 20*time.Millisecond).ShouldNot(BeNil())
	g.Expect(a.get("/api/v2/lbs/pending").list()).To(BeEmpty())
	g.Expect(str(lb, "default_ip")).NotTo(BeEmpty())
	g.Expect(str(lb, "dc_name")).To(Equal("New York 1"))
	id := str(lb, "identifier")

	detail := a.get("/api/v1/lb/" + id).object()
	rules := detail["rules"].([]any)
	g.Expect(rules).To(HaveLen(1))
	rule := rules[0].(map[string]any)
	g.Expect(rule).To(HaveKeyWithValue("frontPort", "6443"))
	g.Expect(rule["backends"]).To(HaveLen(1))
	ruleID := str(rule, "ruleId")

	update := map[string]any{"ruleId": ruleID, "scheme": "tcp", "frontPort": "6443", "backPort": 6443,
		"backends": []map[string]string{{"ip": "198.18.0.11", "vmIdentifier": "vm-b"}, {"ip": "198.18.0.12", "vmIdentifier": "vm-c"}}}
	g.Expect(a.post("/api/v1/lb/rule/update", update).ok()).To(BeTrue())
	backends := a.get("/api/v1/lb/" + id).object()["rules"].([]any)[0].(map[string]any)["backends"].([]any)
	g.Expect(backends).To(HaveLen(2))
	g.Expect(backends[0]).To(HaveKeyWithValue("vmIdentifier", "vm-b"))
	g.Expect(backends[1]).To(HaveKeyWithValue("ip", "198.18.0.12"))
	g.Expect(a.post("/api/v1/lb/rule/update", map[string]any{"ruleId": "nope"}).errorWith(404, "Rule not found")).To(BeTrue())
	g.Expect(a.post("/api/v1/lb/rule/update", map[string]any{"ruleId": ruleID, "backends": []map[string]string{{"ip": "bad"}}}).errorWith(400, "backend ip")).To(BeTrue())

	backendID := str(backends[0].(map[string]any), "identifier")
	g.Expect(a.delete("/api/v1/lb/delete/backend", map[string]string{"backendId": backendID}).ok()).To(BeTrue())
	g.Expect(a.delete("/api/v1/lb/delete/backend", map[string]string{"backendId": backendID}).errorWith(404, "Backend not found")).To(BeTrue())
	g.Expect(srv.LoadBalancersByName("cluster-a-apiserver")[0].Rules[0].Backends).To(HaveLen(1))

	g.Expect(a.delete("/api/v1/lb/"+id, map[string]any{}).errorWith(400, "reason")).To(BeTrue())
	reason := map[string]any{"deleteStatistic": map[string]string{"reason": "cluster deleted"}}
	g.Expect(a.delete("/api/v1/lb/"+id, reason).ok()).To(BeTrue())
	g.Expect(a.get("/api/v1/lb/"+id).errorWith(404, "Load balancer not found")).To(BeTrue())
	g.Expect(a.delete("/api/v1/lb/"+id, reason).errorWith(404, "Load balancer not found")).To(BeTrue())
	g.Expect(srv.LoadBalancers()).To(BeEmpty())
}

func TestLoadBalancerValidation(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	base := func(over map[string]any) map[string]any {
		b := map[string]any{"lbName": "lb", "resourceIdentifier": vpsiesim.DefaultLBPlan, "dcIdentifier": vpsiesim.DefaultDatacenter,
			"rules": []map[string]any{{"scheme": "tcp", "frontPort": "6443", "backPort": "6443", "backends": []any{}}}}
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	for over, msg := range map[string]string{
		`{"lbName":""}`: "lbName is required",
		`{"dcIdentifier":"dc000000-0000-4000-8000-000000000005"}`:     "not available in this datacenter",
		`{"resourceIdentifier":"nope"}`:                               "Invalid resourceIdentifier",
		`{"algorithm":"random"}`:                                      "algorithm",
		`{"rules":[]}`:                                                "at least one rule",
		`{"rules":[{"scheme":"udp","frontPort":"1","backPort":"1"}]}`: "scheme",
		`{"rules":[{"scheme":"tcp","frontPort":"0","backPort":"1"}]}`: "ports",
	} {
		var o map[string]any
		mustJSON([]byte(over), &o)
		r := a.post("/api/v1/lb/create", base(o))
		g.Expect(r.errorWith(400, msg)).To(BeTrue(), "%s: %s", over, r.String())
	}
	g.Expect(a.post("/api/v1/lb/create", base(nil)).ok()).To(BeTrue(), "empty backends are fine")
	g.Expect(srv.LoadBalancers()).To(HaveLen(1))
}

func itoa(n int) string { return strconv.Itoa(n) }
