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
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func apiRule(direction, port, comment string, sources ...string) map[string]any {
	return map[string]any{"action": "ACCEPT", "type": direction, "proto": "tcp", "dport": port, "comment": comment,
		"source": sources, "enable": 1}
}

// findGroup is the listed group of that name, or nil: creates return no id.
func findGroup(a *api, name string) map[string]any {
	for _, grp := range a.get("/apps/v2/firewall/groups").list() {
		if str(grp, "group_name") == name {
			return grp
		}
	}
	return nil
}

func TestFirewallGroupLifecycle(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	srv.SetFaults(vpsiesim.Faults{ListLag: 300 * time.Millisecond})

	create := map[string]any{"groupName": "capvpsie-demo-fw", "rules": []any{
		apiRule("in", "6443", "api server", "0.0.0.0/0"),
		apiRule("in", "30000:32767", "Custom", "10.42.0.7/16"),
		apiRule("in", "22", "Custom", "192.0.2.10"),
	}}
	r := a.post("/apps/v2/firewall/create/group", create)
	g.Expect(r.ok()).To(BeTrue(), r.String())
	g.Expect(r.dataIs("true")).To(BeTrue(), "no id returned")
	g.Expect(findGroup(a, "capvpsie-demo-fw")).To(BeNil(), "the list lags a new group")
	g.Eventually(func() map[string]any { return findGroup(a, "capvpsie-demo-fw") }, 5*time.Second, 20*time.Millisecond).ShouldNot(BeNil())
	grp := findGroup(a, "capvpsie-demo-fw")
	id := str(grp, "identifier")
	g.Expect(id).NotTo(BeEmpty())
	rules := grp["rules"].(map[string]any)
	in := rules["inBound"].([]any)
	g.Expect(in).To(HaveLen(3))
	g.Expect(rules["outBound"]).To(BeEmpty())
	g.Expect(in[1].(map[string]any)["source"]).To(Equal([]any{"10.42.0.0/16"}), "CIDRs are normalised")
	g.Expect(in[2].(map[string]any)["source"]).To(Equal([]any{"192.0.2.10/32"}))

	// What the API refuses.
	for name, body := range map[string]map[string]any{
		"a short name":           {"groupName": "fw"},
		"a rule without comment": {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("in", "80", "")}},
		"a duplicate comment":    {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("in", "80", "web"), apiRule("in", "443", "web")}},
		"a port out of range":    {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("in", "70000", "big")}},
		"a reversed port range":  {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("in", "90:80", "rev")}},
		"a bad source":           {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("in", "80", "src", "10.0.0.0/33")}},
		"an unknown direction":   {"groupName": "capvpsie-x-fw", "rules": []any{apiRule("sideways", "80", "dir")}},
	} {
		g.Expect(a.post("/apps/v2/firewall/create/group", body).errorWith(400, "")).To(BeTrue(), name)
	}
	g.Expect(a.post("/apps/v2/firewall/create/group", map[string]any{"groupName": "capvpsie-y-fw", "rules": []any{
		apiRule("in", "80", "web"), apiRule("out", "80", "web")}}).ok()).To(BeTrue(), "comments are unique per direction")

	// Rules: one replaced by identifier, one added, one deleted.
	get := a.get("/apps/v2/firewall/group/" + id).object()
	first := get["rules"].(map[string]any)["inBound"].([]any)[0].(map[string]any)
	replaced := apiRule("in", "6443", "api server", "203.0.113.0/24")
	replaced["identifier"] = str(first, "identifier")
	g.Expect(a.put("/apps/v2/firewall/group/rules/update", map[string]any{"groupId": id,
		"rules": []any{replaced, apiRule("out", "53", "dns")}}).ok()).To(BeTrue())
	group := srv.FirewallGroups()[0]
	g.Expect(group.Rules).To(HaveLen(4))
	g.Expect(group.Rules[len(group.Rules)-2].Source).To(Equal([]string{"203.0.113.0/24"}))
	g.Expect(a.delete("/apps/v2/firewall/group/rules/delete", map[string]any{"groupId": id,
		"rules": []string{str(first, "identifier")}}).ok()).To(BeTrue())
	g.Expect(srv.FirewallGroups()[0].Rules).To(HaveLen(3))

	// Attach to two servers, detach, and a deleted server leaves the group.
	a.post("/api/v2/vm", createVMBody("fw-1", nil))
	a.post("/api/v2/vm", createVMBody("fw-2", nil))
	vm1, vm2 := bootedVM(g, a, "/api/v2", "fw-1"), bootedVM(g, a, "/api/v2", "fw-2")
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": str(vm1, "identifier"), "groupId": id}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": str(vm2, "identifier"), "groupId": id}).ok()).To(BeTrue())
	get = a.get("/apps/v2/firewall/group/" + id).object()
	g.Expect(get["vms"]).To(HaveLen(2))
	g.Expect(srv.Snapshot().FirewallGroups[0].VMs).To(ConsistOf(str(vm1, "identifier"), str(vm2, "identifier")), "/_sim/state shows who has the group")
	g.Expect(a.delete("/apps/v2/firewall/delete/group", map[string]any{"groupId": id,
		"deleteStatistic": map[string]any{"reason": "test"}}).errorWith(400, "attached")).To(BeTrue())
	g.Expect(a.post("/apps/v2/firewall/detach/group", map[string]any{"vmId": str(vm1, "identifier"), "groupId": id}).ok()).To(BeTrue())
	g.Expect(a.delete("/api/v2/vm", map[string]any{"vmIdentifier": str(vm2, "identifier"), "password": testPassword,
		"deleteStatistic": map[string]any{"reason": "test", "note": "n"}}).ok()).To(BeTrue())
	g.Eventually(func() []string { return srv.FirewallGroups()[0].VMs }, 5*time.Second, 20*time.Millisecond).Should(BeEmpty())

	// Delete: HTTP 500 without deleteStatistic, as VPSie answers; then gone.
	g.Expect(a.delete("/apps/v2/firewall/delete/group", map[string]any{"groupId": id}).errorWith(500, "")).To(BeTrue())
	g.Expect(a.delete("/apps/v2/firewall/delete/group", map[string]any{"groupId": id,
		"deleteStatistic": map[string]any{"reason": "test"}}).ok()).To(BeTrue())
	g.Expect(a.get("/apps/v2/firewall/group/"+id).errorWith(404, "not found")).To(BeTrue())
	g.Expect(srv.FirewallGroups()).To(ConsistOf(HaveField("Name", "capvpsie-y-fw")))
	g.Expect(findGroup(a, "capvpsie-demo-fw")).NotTo(BeNil(), "the list lags a deleted group too")
	g.Eventually(func() map[string]any { return findGroup(a, "capvpsie-demo-fw") }, 5*time.Second, 20*time.Millisecond).Should(BeNil())
}

// TestFirewallAttachRace: two groups attached to one server close together fail inside VPSie (ipSetNotCreated);
// attached one after the other, both hold.
func TestFirewallAttachRace(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	for _, name := range []string{"group-one", "group-two"} {
		g.Expect(a.post("/apps/v2/firewall/create/group", map[string]any{"groupName": name}).ok()).To(BeTrue())
	}
	one, two := str(findGroup(a, "group-one"), "identifier"), str(findGroup(a, "group-two"), "identifier")
	a.post("/api/v2/vm", createVMBody("race-1", nil))
	vm := str(bootedVM(g, a, "/api/v2", "race-1"), "identifier")
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": vm, "groupId": one}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": vm, "groupId": two}).errorWith(500, "ipSetNotCreated")).To(BeTrue())
	time.Sleep(vpsiesim.AttachRace)
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": vm, "groupId": two}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/firewall/attach/group", map[string]any{"vmId": vm, "groupId": "nope"}).errorWith(404, "")).To(BeTrue())
}
