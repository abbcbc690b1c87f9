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

package vpsie

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestListDatacentersPages(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/datacenter", func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		const n = 130
		var items []string
		for i := offset; i < n && i < offset+limit; i++ {
			items = append(items, fmt.Sprintf(`{"dc_name":"DC %d","identifier":"dc-%d","is_active":"1"}`, i, i))
		}
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":[%s],"total":%d}`, strings.Join(items, ","), n))
	})
	c, _ := newTestClient(t, f)
	dcs, err := c.ListDatacenters(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dcs).To(HaveLen(130))
	g.Expect(dcs[129].Identifier).To(Equal(String("dc-129")))
	g.Expect(dcs[0].IsActive).To(Equal(Int(1)))
	reqs := f.requests("GET /apps/v2/datacenter")
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[0].RawQuery).To(Equal("limit=100&offset=0"))
	g.Expect(reqs[1].RawQuery).To(Equal("limit=100&offset=100"))
}

func TestListDatacentersRecorded(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/datacenter", 200, testdata(t, "datacenters.json"))
	c, _ := newTestClient(t, f)
	dcs, err := c.ListDatacenters(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dcs).To(HaveLen(2))
	g.Expect(dcs[0].Name).To(Equal(String("New York")))
	g.Expect(dcs[0].DefaultSelected).To(Equal(Int(1)))
	g.Expect(dcs[1].IsFIPAvailable).To(Equal(Int(0)))
	g.Expect(f.count("GET /apps/v2/datacenter")).To(Equal(1), "total reached")
}

func TestListPlansIsAFormPost(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("POST /apps/v2/resources", sequence(answer(502, "<html>502</html>"), answer(200, testdata(t, "plans.json"))))
	c, _ := newTestClient(t, f)
	plans, err := c.ListPlans(context.Background(), PlanQuery{DcIdentifier: "dc-1", OSIdentifier: "os-1", PlanCatIdentifier: "cat-std"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plans).To(HaveLen(2))
	g.Expect(plans[0].Price).To(Equal(Float(5)))
	g.Expect(plans[1].CPU).To(Equal(Int(2)))
	g.Expect(plans[1].RAM).To(Equal(Int(4096)))
	g.Expect(plans[1].NetSpeed).To(Equal(Int(1000)))

	reqs := f.requests("POST /apps/v2/resources")
	g.Expect(reqs).To(HaveLen(2), "a read-only query is retried")
	r := reqs[1]
	g.Expect(r.Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
	form, err := url.ParseQuery(string(r.Body))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(form).To(Equal(url.Values{
		"dcIdentifier": {"dc-1"}, "osIdentifier": {"os-1"}, "planCatIdentifier": {"cat-std"},
		"name": {""}, "description": {""}, "isCustom": {"0"},
	}))
}

func TestListPlansErrors(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("POST /apps/v2/resources", sequence(
		answer(200, `{"error":true,"message":"Datacenter not found"}`),
		answer(200, `{"error":false,"data":"oops"}`),
	))
	c, _ := newTestClient(t, f)
	_, err := c.ListPlans(context.Background(), PlanQuery{DcIdentifier: "nope"})
	g.Expect(IsTerminal(err)).To(BeTrue(), "an unknown datacenter is terminal")
	_, err = c.ListPlans(context.Background(), PlanQuery{DcIdentifier: "dc-1"})
	g.Expect(IsTerminal(err)).To(BeTrue(), "an undecodable answer is terminal")
}

func TestCatalogLists(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/plans/category", 200, testdata(t, "plan_categories.json"))
	f.reply("GET /apps/v2/custom/images", 200, testdata(t, "custom_images.json"))
	f.reply("GET /apps/v2/sshkeys", 200, testdata(t, "sshkeys.json"))
	f.reply("GET /apps/v2/tags", 200, testdata(t, "tags.json"))
	c, _ := newTestClient(t, f)
	ctx := context.Background()

	cats, err := c.ListPlanCategories(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cats).To(Equal([]PlanCategory{{"cat-std", "Standard"}, {"cat-cpu", "CPU Optimized"}}))
	imgs, err := c.ListCustomImages(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(imgs).To(Equal([]CustomImage{{"img-1", "ubuntu-24.04-k8s.qcow2", "k8s-1.33", "dc-1"}}))
	keys, err := c.ListSSHKeys(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys[0].PublicKey).To(HavePrefix("ssh-ed25519 "))
	g.Expect(keys[0].Identifier).To(Equal(String("key-1")))
	tags, err := c.ListTags(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tags).To(Equal([]Tag{{ID: 3, Identifier: "tag-1", Name: "capvpsie-owned", Color: "#00ff00"}}))
}

func TestCatalogMutations(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	ok := testdata(t, "ok_true.json")
	f.reply("POST /apps/v2/sshkey/add", 200, ok)
	f.reply("DELETE /apps/v2/sshkey", 200, ok)
	f.reply("POST /apps/v2/tags/add", 200, ok)
	f.reply("PUT /apps/v2/tags/edit", 200, ok)
	c, _ := newTestClient(t, f)
	ctx := context.Background()

	g.Expect(c.CreateSSHKey(ctx, "capvpsie-demo", "ssh-ed25519 AAAA demo")).To(Succeed())
	g.Expect(f.requests("POST /apps/v2/sshkey/add")[0].JSON(t)).To(Equal(map[string]any{"privateKey": "ssh-ed25519 AAAA demo", "name": "capvpsie-demo"}))
	g.Expect(c.DeleteSSHKey(ctx, "key-1")).To(Succeed())
	del := f.requests("DELETE /apps/v2/sshkey")[0]
	g.Expect(del.JSON(t)).To(Equal(map[string]any{"identifier": "key-1"}))
	g.Expect(c.CreateTag(ctx, "capvpsie-owned", "#00ff00")).To(Succeed())
	g.Expect(f.requests("POST /apps/v2/tags/add")[0].JSON(t)).To(Equal(map[string]any{"name": "capvpsie-owned", "color": "#00ff00"}))
	g.Expect(c.SetTags(ctx, "vm", "vm-1", []string{"a"})).To(Succeed())
	g.Expect(c.SetTags(ctx, "vm", "vm-1", nil)).To(Succeed())
	edits := f.requests("PUT /apps/v2/tags/edit")
	g.Expect(edits[0].JSON(t)).To(Equal(map[string]any{"entity": "vm", "identifier": "vm-1", "tags": []any{"a"}}))
	g.Expect(edits[1].JSON(t)["tags"]).To(Equal([]any{}))

	for _, err := range []error{
		c.CreateSSHKey(ctx, "", "k"), c.DeleteSSHKey(ctx, ""), c.CreateTag(ctx, "", "c"), c.SetTags(ctx, "vm", "", nil),
	} {
		g.Expect(IsTerminal(err)).To(BeTrue())
	}
}

func TestVPCs(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	ok := testdata(t, "ok_true.json")
	f.reply("GET /apps/v2/vpc", 200, testdata(t, "vpcs.json"))
	f.reply("GET /apps/v2/vpc/77", 200, testdata(t, "vpc_get.json"))
	f.reply("GET /apps/v2/vpc/99", 200, testdata(t, "data_false.json"))
	f.reply("POST /apps/v2/vpc/add", 200, ok)
	f.reply("DELETE /apps/v2/vpc/77", 200, ok)
	f.reply("POST /apps/v2/vm/add/vpc", 200, ok)
	f.reply("DELETE /apps/v2/vm/vpc", 200, ok)
	c, _ := newTestClient(t, f)
	ctx := context.Background()

	vpcs, err := c.ListVPCs(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vpcs).To(HaveLen(2))
	g.Expect(vpcs[0].ID).To(Equal(ID("77")))
	g.Expect(vpcs[0].NetworkSize).To(Equal(Int(24)))
	g.Expect(vpcs[0].DcIdentifier).To(Equal(String("dc-1")))
	g.Expect(vpcs[1].ID).To(Equal(ID("78")), "id as a string")
	g.Expect(vpcs[1].DcIdentifier).To(Equal(String("dc-2")), "dcIdentifier spelling")
	g.Expect(FindVPCsByName(vpcs, "capvpsie-demo")).To(HaveLen(1))
	g.Expect(FindVPCsByName(vpcs, "CAPVPSIE-demo")).To(BeEmpty())

	vpc, err := c.GetVPC(ctx, "77")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vpc.Name).To(Equal(String("capvpsie-demo")))
	_, err = c.GetVPC(ctx, "99")
	g.Expect(IsNotFound(err)).To(BeTrue())

	g.Expect(c.CreateVPC(ctx, CreateVPCRequest{Name: "capvpsie-demo", DcIdentifier: "dc-1", NetworkRange: "10.10.0.0", NetworkSize: "24"})).To(Succeed())
	g.Expect(f.requests("POST /apps/v2/vpc/add")[0].JSON(t)).To(Equal(map[string]any{
		"name": "capvpsie-demo", "description": "", "dcIdentifier": "dc-1", "networkRange": "10.10.0.0",
		"networkSize": "24", "autoGenerate": float64(0),
	}))

	g.Expect(c.DeleteVPC(ctx, "77", "", "cluster deleted")).To(Succeed())
	g.Expect(f.requests("DELETE /apps/v2/vpc/77")[0].JSON(t)).To(Equal(map[string]any{
		"deleteStatistic": map[string]any{"reason": DefaultDeleteReason, "note": "cluster deleted"},
		"reason":          DefaultDeleteReason, "note": "cluster deleted",
	}))

	g.Expect(c.AttachVPC(ctx, "vm-1", "77", "dc-1")).To(Succeed())
	g.Expect(c.AttachVPC(ctx, "vm-1", "vpc-uuid", "dc-1")).To(Succeed())
	att := f.requests("POST /apps/v2/vm/add/vpc")
	g.Expect(string(att[0].Body)).To(ContainSubstring(`"vpcId":77`), "numeric ids are sent as numbers")
	g.Expect(att[1].JSON(t)).To(Equal(map[string]any{"vmIdentifier": "vm-1", "vpcId": "vpc-uuid", "dcIdentifier": "dc-1"}))

	g.Expect(c.DetachVPC(ctx, "vm-1", "9001")).To(Succeed())
	g.Expect(string(f.requests("DELETE /apps/v2/vm/vpc")[0].Body)).To(Equal(`{"vmIdentifier":"vm-1","privateIpId":9001}`))

	for _, err := range []error{
		c.CreateVPC(ctx, CreateVPCRequest{}), c.DeleteVPC(ctx, "", "", ""), c.AttachVPC(ctx, "", "1", "d"),
		c.AttachVPC(ctx, "vm", "", "d"), c.DetachVPC(ctx, "", "1"), c.DetachVPC(ctx, "vm", ""),
	} {
		g.Expect(IsTerminal(err)).To(BeTrue())
	}
	_, err = c.GetVPC(ctx, "")
	g.Expect(IsTerminal(err)).To(BeTrue())
}

func TestLoadBalancers(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	ok := testdata(t, "ok_true.json")
	f.reply("GET /api/v1/lb/all", 200, testdata(t, "lb_list.json"))
	f.reply("GET /api/v1/lb/lb-1", 200, testdata(t, "lb_get.json"))
	f.reply("GET /api/v1/lb/lb-404", 200, testdata(t, "data_false.json"))
	f.reply("POST /api/v1/lb/create", 200, ok)
	f.reply("DELETE /api/v1/lb/lb-1", 200, ok)
	f.reply("POST /api/v1/lb/rule/update", 200, ok)
	f.reply("DELETE /api/v1/lb/delete/backend", 200, ok)
	f.reply("GET /api/v2/lbs/pending", 200, testdata(t, "lb_pending.json"))
	c, _ := newTestClient(t, f)
	ctx := context.Background()

	lbs, err := c.ListLoadBalancers(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(FindLoadBalancersByName(lbs, "capvpsie-demo-apiserver")).To(HaveLen(1))
	g.Expect(FindLoadBalancersByName(lbs, "nope")).To(BeEmpty())

	lb, err := c.GetLoadBalancer(ctx, "lb-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lb.DefaultIP).To(Equal(String("203.0.113.99")))
	g.Expect(lb.Rules).To(HaveLen(1))
	g.Expect(lb.Rules[0].FrontPort).To(Equal(Int(6443)), "port as a string")
	g.Expect(lb.Rules[0].BackPort).To(Equal(Int(6443)))
	g.Expect(lb.Rules[0].Backends[0].Identifier).To(Equal(String("be-1")))
	_, err = c.GetLoadBalancer(ctx, "lb-404")
	g.Expect(IsNotFound(err)).To(BeTrue())

	g.Expect(c.CreateLoadBalancer(ctx, CreateLoadBalancerRequest{
		Name: "capvpsie-demo-apiserver", Algorithm: "roundrobin", ResourceIdentifier: "lbplan-1", DcIdentifier: "dc-1",
		Rules: []LBRuleSpec{{Scheme: "tcp", FrontPort: "6443", BackPort: "6443"}},
	})).To(Succeed())
	body := f.requests("POST /api/v1/lb/create")[0].JSON(t)
	g.Expect(body["lbName"]).To(Equal("capvpsie-demo-apiserver"))
	g.Expect(body["rules"]).To(Equal([]any{map[string]any{"scheme": "tcp", "frontPort": "6443", "backPort": "6443", "backends": []any{}}}))

	g.Expect(c.DeleteLoadBalancer(ctx, "lb-1", "cluster deleted", "")).To(Succeed())
	g.Expect(f.requests("DELETE /api/v1/lb/lb-1")[0].JSON(t)).To(Equal(map[string]any{
		"deleteStatistic": map[string]any{"reason": "cluster deleted", "note": ""}}))

	g.Expect(c.UpdateLBRule(ctx, UpdateLBRuleRequest{RuleID: "rule-1", Scheme: "tcp", FrontPort: 6443, BackPort: 6443,
		Backends: []BackendTarget{{IP: "10.0.0.4", VMIdentifier: "vm-1"}}})).To(Succeed())
	g.Expect(f.requests("POST /api/v1/lb/rule/update")[0].JSON(t)).To(Equal(map[string]any{
		"ruleId": "rule-1", "scheme": "tcp", "frontPort": float64(6443), "backPort": float64(6443),
		"backends": []any{map[string]any{"ip": "10.0.0.4", "vmIdentifier": "vm-1"}},
	}))
	g.Expect(c.UpdateLBRule(ctx, UpdateLBRuleRequest{RuleID: "rule-1"})).To(Succeed())
	g.Expect(f.requests("POST /api/v1/lb/rule/update")[1].JSON(t)["backends"]).To(Equal([]any{}))

	g.Expect(c.DeleteLBBackend(ctx, "be-1")).To(Succeed())
	g.Expect(f.requests("DELETE /api/v1/lb/delete/backend")[0].JSON(t)).To(Equal(map[string]any{"backendId": "be-1"}))

	pending, err := c.ListPendingLoadBalancers(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pending).To(HaveLen(1), "nested [[...]] list")
	g.Expect(pending[0].Data.Name).To(Equal(String("capvpsie-demo-apiserver")))

	for _, err := range []error{
		c.CreateLoadBalancer(ctx, CreateLoadBalancerRequest{}), c.DeleteLoadBalancer(ctx, "", "", ""),
		c.UpdateLBRule(ctx, UpdateLBRuleRequest{}), c.DeleteLBBackend(ctx, ""),
	} {
		g.Expect(IsTerminal(err)).To(BeTrue())
	}
	_, err = c.GetLoadBalancer(ctx, "")
	g.Expect(IsTerminal(err)).To(BeTrue())
}

func TestListErrorsPropagate(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/datacenter", 200, `{"error":false,"data":"garbage"}`)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":{"unexpected":true}}`)
	f.reply("GET /api/v2/vm/x", 200, `{"error":false,"data":{"vmData":[1]}}`)
	c, _ := newTestClient(t, f, func(c *Config) { c.MaxRetries = -1 })
	ctx := context.Background()
	_, err := c.ListDatacenters(ctx)
	g.Expect(IsTerminal(err)).To(BeTrue())
	_, err = c.ListTags(ctx)
	g.Expect(IsTerminal(err)).To(BeTrue())
	_, err = c.GetVM(ctx, "x")
	g.Expect(IsTerminal(err)).To(BeTrue())
	for _, call := range []func() error{
		func() error { _, err := c.ListVPCs(ctx); return err },
		func() error { _, err := c.ListLoadBalancers(ctx); return err },
		func() error { _, err := c.GetVPC(ctx, "1"); return err },
		func() error { _, err := c.GetLoadBalancer(ctx, "1"); return err },
		func() error { _, err := c.GetVMStatus(ctx, "1"); return err },
		func() error { _, err := c.ListPlans(ctx, PlanQuery{}); return err },
		func() error { _, err := c.ListVMs(ctx, ListVMsOptions{}); return err },
	} {
		g.Expect(call()).To(HaveOccurred()) // unrouted: the fake answers 404
	}
}

func TestListLoadBalancerOffers(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST /api/v1/lb/offers", 200,
		`{"error":false,"data":[{"id":1,"identifier":"lbp-1","nickname":"lb-small","price":"10.5","connections":"5000"}],"total":1}`)
	c, _ := newTestClient(t, f)
	offers, err := c.ListLoadBalancerOffers(context.Background(), "dc-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(offers).To(Equal([]LBPlan{{Identifier: "lbp-1", Nickname: "lb-small", Price: 10.5, Connections: 5000}}))
	g.Expect(f.requests("POST /api/v1/lb/offers")[0].JSON(t)).To(Equal(map[string]any{"dcIdentifier": "dc-1"}))

	f.reply("POST /api/v1/lb/offers", 400, `{"error":true,"code":400,"message":"Invalid datacenter"}`)
	_, err = c.ListLoadBalancerOffers(context.Background(), "nope")
	g.Expect(IsTerminal(err)).To(BeTrue())
}
