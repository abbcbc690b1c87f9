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
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// window is how long the hostile windows in these tests last: long enough for a loaded machine to look inside
// them, short enough to wait out. Assertions about what is invisible during a window are made only when the
// look finished before the window closed (see inWindow), so a slow run skips them instead of failing.
const window = 1500 * time.Millisecond

// eventually is the generous timeout for what must happen after a window.
const eventually = 15 * time.Second

// inWindow reports whether now is still before deadline; when it is not, it logs that an in-window check
// was skipped. Call it after the observation.
func inWindow(t *testing.T, deadline time.Time, what string) bool {
	t.Helper()
	if time.Now().Before(deadline) {
		return true
	}
	t.Logf("%s: looked after the window closed, not checked", what)
	return false
}

func vmByName(g Gomega, srv *vpsiesim.Server, hostname string) vpsiesim.VM {
	vms := srv.VMsByHostname(hostname)
	g.Expect(vms).To(HaveLen(1))
	return vms[0]
}

func TestListGapHidesAFreshVMEverywhere(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	var mu sync.Mutex
	var booted []string
	srv.OnVMBoot(func(v vpsiesim.VM) { mu.Lock(); booted = append(booted, v.Hostname); mu.Unlock() })

	// Off by default: a booted VM is listed and found at once.
	g.Expect(a.post("/api/v2/vm", createVMBody("plain", nil)).ok()).To(BeTrue())
	plain := vmByName(g, srv, "plain")
	g.Expect(findByHostname(a.get("/api/v2/vm").list(), "plain")).To(HaveLen(1))
	g.Expect(a.get("/api/v2/vm/" + plain.Identifier).object()).To(HaveKey("vmData"))

	srv.SetFaults(vpsiesim.Faults{ListGap: window})
	g.Expect(a.post("/api/v2/vm", createVMBody("gapped", nil)).ok()).To(BeTrue())
	vm := vmByName(g, srv, "gapped")
	g.Expect(vm.State).To(Equal(vpsiesim.VMRunning), "the truth: it is up")
	g.Expect(vm.VisibleAt).To(Equal(vm.LeftPendingAt.Add(window)))
	mu.Lock()
	g.Expect(booted).To(ContainElement("gapped"), "the boot hook fires when it is really up")
	mu.Unlock()

	pending, api, apps := pendingHostnames(a), a.get("/api/v2/vm").list(), a.get("/apps/v2/vm").list()
	get, status := a.get("/api/v2/vm/"+vm.Identifier), a.get("/api/v2/vm/status/"+vm.Identifier)
	tags := a.post("/api/v2/vm/addtags", map[string]any{"vmIdentifier": vm.Identifier, "tags": []string{"x"}})
	if inWindow(t, vm.VisibleAt, "list gap") {
		g.Expect(pending).To(BeEmpty(), "out of the pending queue")
		g.Expect(findByHostname(api, "gapped")).To(BeEmpty(), "not listed yet")
		g.Expect(findByHostname(apps, "gapped")).To(BeEmpty())
		g.Expect(get.ok() && get.dataIs("false")).To(BeTrue(), "GET answers as for a VM that does not exist: %s", get)
		g.Expect(status.errorWith(404, "VM not found")).To(BeTrue())
		g.Expect(tags.errorWith(404, "VM not found")).To(BeTrue())
		g.Expect(findByHostname(api, "plain")).To(HaveLen(1), "older VMs are not affected")
	}
	st := srv.Snapshot()
	g.Expect(st.VMs).To(HaveLen(2), "the state tells the truth")

	bootedVM(g, a, "/api/v2", "gapped")
	g.Expect(a.get("/apps/v2/vm/" + vm.Identifier).object()).To(HaveKey("vmData"))
}

func TestListLagDelaysVMsInAndOutOfTheList(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	del := func(id string) resp {
		return a.delete("/api/v2/vm", map[string]any{"vmIdentifier": id, "password": testPassword,
			"deleteStatistic": map[string]string{"reason": "test"}})
	}

	// Off by default: a deleted VM leaves the list at once.
	g.Expect(a.post("/api/v2/vm", createVMBody("plain", nil)).ok()).To(BeTrue())
	g.Expect(del(vmByName(g, srv, "plain").Identifier).ok()).To(BeTrue())
	g.Expect(a.get("/api/v2/vm").list()).To(BeEmpty())

	srv.SetFaults(vpsiesim.Faults{ListLag: window})
	for _, h := range []string{"deleted", "vanished"} {
		g.Expect(a.post("/api/v2/vm", createVMBody(h, nil)).ok()).To(BeTrue())
	}
	vm := vmByName(g, srv, "deleted")
	g.Expect(vm.ListedAt).To(Equal(vm.VisibleAt.Add(window)))
	list, get := a.get("/api/v2/vm").list(), a.get("/api/v2/vm/"+vm.Identifier)
	if inWindow(t, vm.ListedAt, "list lag on create") {
		g.Expect(list).To(BeEmpty(), "not listed yet")
	}
	g.Expect(get.object()).To(HaveKey("vmData"), "GET by identifier tells the truth")
	listed := bootedVM(g, a, "/apps/v2", "deleted")
	bootedVM(g, a, "/api/v2", "vanished")

	// Gone, but still listed as it was last seen.
	g.Expect(del(vm.Identifier).ok()).To(BeTrue())
	g.Expect(srv.VanishVM(vmByName(g, srv, "vanished").Identifier)).To(Succeed())
	gone, _ := srv.VM(vm.Identifier)
	g.Expect(gone.UnlistAt).To(Equal(gone.DeletedAt.Add(window)))
	list, get = a.get("/apps/v2/vm").list(), a.get("/apps/v2/vm/"+vm.Identifier)
	g.Expect(get.dataIs("false")).To(BeTrue(), "GET by identifier tells the truth")
	if inWindow(t, gone.UnlistAt, "list lag on delete") {
		g.Expect(list).To(HaveLen(2))
		g.Expect(findByHostname(list, "deleted")).To(ConsistOf(listed), "as it was last seen")
		g.Expect(findByHostname(list, "vanished")).To(HaveLen(1))
	}
	var state struct {
		VMs        []vpsiesim.VM `json:"vms"`
		DeletedVMs []vpsiesim.VM `json:"deletedVms"`
	}
	g.Expect(json.Unmarshal(a.anonymous().get("/_sim/state").Body, &state)).To(Succeed())
	g.Expect(state.VMs).To(BeEmpty(), "/_sim/state tells the truth")
	g.Expect(state.DeletedVMs).To(HaveLen(3))
	g.Expect(state.DeletedVMs[1].UnlistAt).NotTo(BeZero())

	g.Eventually(func() []map[string]any { return a.get("/api/v2/vm").list() }, eventually, 20*time.Millisecond).Should(BeEmpty())
}

func TestListLagAppliesToLoadBalancersAndVPCs(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.LBPendingDelay = -1 })
	a := newAPI(t, srv.URL)
	reason := map[string]any{"deleteStatistic": map[string]string{"reason": "test"}}
	createLB := func(name string) {
		g.Expect(a.post("/api/v1/lb/create", map[string]any{"lbName": name, "resourceIdentifier": vpsiesim.DefaultLBPlan,
			"dcIdentifier": vpsiesim.DefaultDatacenter, "rules": []map[string]any{{"scheme": "tcp", "frontPort": 6443, "backPort": 6443}}}).ok()).To(BeTrue())
	}
	createVPC := func(name string) {
		g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": name, "dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).ok()).To(BeTrue())
	}
	names := func(path, key string) []string {
		var out []string
		for _, m := range a.get(path).list() {
			out = append(out, str(m, key))
		}
		return out
	}

	// Off by default: listed at once.
	createLB("lb-plain")
	createVPC("vpc-plain")
	g.Expect(names("/api/v1/lb/all", "lbName")).To(Equal([]string{"lb-plain"}))
	g.Expect(names("/apps/v2/vpc", "name")).To(Equal([]string{"vpc-plain"}))

	srv.SetFaults(vpsiesim.Faults{ListLag: window})
	createLB("lb-lagged")
	createVPC("vpc-lagged")
	lb := srv.LoadBalancersByName("lb-lagged")[0]
	vpc := srv.VPCs()[1]
	lbs, vpcs := names("/api/v1/lb/all", "lbName"), names("/apps/v2/vpc", "name")
	if inWindow(t, lb.ListedAt, "LB list lag on create") {
		g.Expect(lbs).To(Equal([]string{"lb-plain"}))
	}
	if inWindow(t, vpc.ListedAt, "VPC list lag on create") {
		g.Expect(vpcs).To(Equal([]string{"vpc-plain"}))
	}
	g.Expect(a.get("/api/v1/lb/"+lb.Identifier).ok()).To(BeTrue(), "gets tell the truth")
	g.Expect(a.get(fmt.Sprintf("/apps/v2/vpc/%d", vpc.ID)).ok()).To(BeTrue())
	g.Eventually(func() []string { return names("/api/v1/lb/all", "lbName") }, eventually, 20*time.Millisecond).
		Should(Equal([]string{"lb-plain", "lb-lagged"}))
	g.Eventually(func() []string { return names("/apps/v2/vpc", "name") }, eventually, 20*time.Millisecond).
		Should(Equal([]string{"vpc-plain", "vpc-lagged"}))

	// Deleted: still listed, in place, for the lag.
	plainLB := srv.LoadBalancersByName("lb-plain")[0]
	g.Expect(a.delete("/api/v1/lb/"+plainLB.Identifier, reason).ok()).To(BeTrue())
	g.Expect(a.delete(fmt.Sprintf("/apps/v2/vpc/%d", srv.VPCs()[0].ID), reason).ok()).To(BeTrue())
	deadline := time.Now().Add(window)
	lbs, vpcs = names("/api/v1/lb/all", "lbName"), names("/apps/v2/vpc", "name")
	if inWindow(t, deadline, "list lag on delete") {
		g.Expect(lbs).To(Equal([]string{"lb-plain", "lb-lagged"}))
		g.Expect(vpcs).To(Equal([]string{"vpc-plain", "vpc-lagged"}))
	}
	g.Expect(a.get("/api/v1/lb/"+plainLB.Identifier).errorWith(404, "Load balancer not found")).To(BeTrue())
	g.Expect(srv.LoadBalancers()).To(HaveLen(1), "the truth")
	g.Expect(srv.VPCs()).To(HaveLen(1))
	g.Eventually(func() []string { return names("/api/v1/lb/all", "lbName") }, eventually, 20*time.Millisecond).
		Should(Equal([]string{"lb-lagged"}))
	g.Eventually(func() []string { return names("/apps/v2/vpc", "name") }, eventually, 20*time.Millisecond).
		Should(Equal([]string{"vpc-lagged"}))
}

func TestPageCapShortensPagesButNotTotal(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.LBPendingDelay = -1 })
	a := newAPI(t, srv.URL)
	for i := range 5 {
		g.Expect(a.post("/api/v2/vm", createVMBody(fmt.Sprintf("vm-%d", i), nil)).ok()).To(BeTrue())
		g.Expect(a.post("/api/v1/lb/create", map[string]any{"lbName": fmt.Sprintf("lb-%d", i), "resourceIdentifier": vpsiesim.DefaultLBPlan,
			"dcIdentifier": vpsiesim.DefaultDatacenter, "rules": []map[string]any{{"scheme": "tcp", "frontPort": 80, "backPort": 80}}}).ok()).To(BeTrue())
		g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": fmt.Sprintf("vpc-%d", i), "dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).ok()).To(BeTrue())
	}
	nDC := len(vpsiesim.DefaultCatalog().Datacenters)
	for _, tc := range []struct {
		path  string
		total int
	}{
		{"/api/v2/vm", 5}, {"/apps/v2/vm", 5}, {"/api/v1/lb/all", 5}, {"/apps/v2/vpc", 5}, {"/apps/v2/datacenter", nDC},
	} {
		t.Run(tc.path, func(t *testing.T) {
			g := NewWithT(t)
			srv.SetFaults(vpsiesim.Faults{})
			r := a.get(tc.path + "?offset=1&limit=2")
			g.Expect(r.list()).To(HaveLen(2), "offset and limit are honoured")
			g.Expect(r.Total).To(Equal(tc.total))
			g.Expect(a.get(tc.path+"?limit=100").list()).To(HaveLen(tc.total), "off by default: no cap")

			srv.SetFaults(vpsiesim.Faults{PageCap: 2})
			for _, q := range []string{"", "?limit=100", "?offset=0&limit=3"} {
				r := a.get(tc.path + q)
				g.Expect(r.list()).To(HaveLen(2), q)
				g.Expect(r.Total).To(Equal(tc.total), "total still counts everything")
			}
			g.Expect(a.get(tc.path+"?limit=1").list()).To(HaveLen(1), "a smaller limit still wins")
			// A client that stops at the first page shorter than its limit misses items; one that pages by
			// offset until it has total items gets them all.
			g.Expect(len(a.get(tc.path + "?limit=100").list())).To(BeNumerically("<", tc.total))
			seen := 0
			for seen < tc.total {
				n := len(a.get(fmt.Sprintf("%s?offset=%d&limit=100", tc.path, seen)).list())
				g.Expect(n).To(BeNumerically(">", 0))
				seen += n
			}
			g.Expect(seen).To(Equal(tc.total))
		})
	}
}

func TestPendingLagKeepsNewThingsOutOfTheQueue(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	// Pending times of an hour: once in the queue, things stay there until the test boots them.
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = time.Hour; o.LBPendingDelay = time.Hour })
	a := newAPI(t, srv.URL)
	lbPending := func() []map[string]any { return a.get("/api/v2/lbs/pending").list() }
	createLB := func(name string) {
		g.Expect(a.post("/api/v1/lb/create", map[string]any{"lbName": name, "resourceIdentifier": vpsiesim.DefaultLBPlan,
			"dcIdentifier": vpsiesim.DefaultDatacenter, "rules": []map[string]any{{"scheme": "tcp", "frontPort": 80, "backPort": 80}}}).ok()).To(BeTrue())
	}

	// Off by default: queued at once.
	g.Expect(a.post("/api/v2/vm", createVMBody("plain", nil)).ok()).To(BeTrue())
	createLB("lb-plain")
	g.Expect(pendingHostnames(a)).To(Equal([]string{"plain"}))
	g.Expect(lbPending()).To(HaveLen(1))

	srv.SetFaults(vpsiesim.Faults{PendingLag: window})
	g.Expect(a.post("/api/v2/vm", createVMBody("slow", nil)).ok()).To(BeTrue())
	createLB("lb-slow")
	vm := vmByName(g, srv, "slow")
	lb := srv.LoadBalancersByName("lb-slow")[0]
	g.Expect(vm.QueuedAt).To(Equal(vm.CreatedAt.Add(window)))
	g.Expect(lb.QueuedAt).To(Equal(lb.CreatedAt.Add(window)))
	vmQueue, vmList, lbQueue, lbList := pendingHostnames(a), a.get("/api/v2/vm").list(), lbPending(), a.get("/api/v1/lb/all").list()
	if inWindow(t, vm.QueuedAt, "pending lag") {
		g.Expect(vmQueue).To(Equal([]string{"plain"}), "in neither the queue ...")
		g.Expect(vmList).To(BeEmpty(), "... nor the list")
		g.Expect(lbQueue).To(HaveLen(1))
		g.Expect(lbList).To(BeEmpty())
	}
	g.Expect(srv.PendingVMs()).To(HaveLen(2), "the truth: it is pending")

	g.Eventually(func() []string { return pendingHostnames(a) }, eventually, 20*time.Millisecond).Should(ConsistOf("plain", "slow"))
	g.Eventually(lbPending, eventually, 20*time.Millisecond).Should(HaveLen(2))
	g.Expect(srv.BootNow(vm.Identifier)).To(Succeed())
	bootedVM(g, a, "/api/v2", "slow")
}

func TestBootListedUnpoweredShowsAVMBeforeItsAddresses(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	var mu sync.Mutex
	booted, deleted := map[string]vpsiesim.VM{}, map[string]bool{}
	srv.OnVMBoot(func(v vpsiesim.VM) { mu.Lock(); booted[v.Hostname] = v; mu.Unlock() })
	srv.OnVMDelete(func(v vpsiesim.VM) { mu.Lock(); deleted[v.Hostname] = true; mu.Unlock() })
	hooked := func(h string) bool { mu.Lock(); defer mu.Unlock(); _, ok := booted[h]; return ok }
	private := map[string]any{"addPrivateIp": "1"}

	// Off by default: up with its addresses at once.
	g.Expect(a.post("/api/v2/vm", createVMBody("plain", private)).ok()).To(BeTrue())
	plain := findByHostname(a.get("/api/v2/vm").list(), "plain")[0]
	g.Expect(num(plain, "power")).To(Equal(1.0))
	g.Expect(str(plain, "default_ip")).NotTo(BeEmpty())

	srv.SetFaults(vpsiesim.Faults{BootListedUnpowered: window})
	for _, h := range []string{"cold", "killed", "kicked"} {
		g.Expect(a.post("/api/v2/vm", createVMBody(h, private)).ok()).To(BeTrue())
	}
	vm := vmByName(g, srv, "cold")
	deadline := vm.LeftPendingAt.Add(window)
	listed := findByHostname(a.get("/api/v2/vm").list(), "cold")
	detail := a.get("/api/v2/vm/" + vm.Identifier).object()
	stop := a.post("/api/v2/vm/stop", map[string]string{"vmIdentifier": vm.Identifier})
	start := a.post("/api/v2/vm/start", map[string]string{"vmIdentifier": vm.Identifier})
	killed := vmByName(g, srv, "killed")
	del := a.delete("/api/v2/vm", map[string]any{"vmIdentifier": killed.Identifier, "password": testPassword,
		"deleteStatistic": map[string]string{"reason": "test"}})
	if inWindow(t, deadline, "boot listed unpowered") {
		g.Expect(listed).To(HaveLen(1), "listed at once ...")
		g.Expect(num(listed[0], "id")).To(BeNumerically(">", 0))
		g.Expect(num(listed[0], "power")).To(Equal(0.0), "... but powered off")
		g.Expect(num(listed[0], "is_active")).To(Equal(1.0))
		g.Expect(str(listed[0], "default_ip")).To(BeEmpty(), "... and without addresses")
		g.Expect(listed[0]["private_ip"]).To(BeNil())
		g.Expect(listed[0]["publicIp"]).To(BeNil())
		g.Expect(detail["vmData"]).To(HaveKeyWithValue("power", 0.0))
		g.Expect(detail["privateIpData"]).To(BeEmpty())
		g.Expect(stop.errorWith(400, "being provisioned")).To(BeTrue(), stop.String())
		g.Expect(start.ok()).To(BeTrue(), "start is accepted: it is powering on anyway")
		g.Expect(hooked("cold")).To(BeFalse(), "the boot hook waits until it is really up")
		g.Expect(del.ok()).To(BeTrue())
		cur, _ := srv.VM(vm.Identifier)
		g.Expect(cur.State).To(Equal(vpsiesim.VMBooting))
		g.Expect(cur.PublicIPv4).To(BeEmpty())
	}

	// BootNow powers a booting VM on at once.
	kicked := vmByName(g, srv, "kicked")
	g.Expect(srv.BootNow(kicked.Identifier)).To(Succeed())
	g.Expect(hooked("kicked")).To(BeTrue())
	g.Expect(num(findByHostname(a.get("/api/v2/vm").list(), "kicked")[0], "power")).To(Equal(1.0))

	g.Eventually(func() float64 {
		l := findByHostname(a.get("/api/v2/vm").list(), "cold")
		if len(l) != 1 {
			return -1
		}
		return num(l[0], "power")
	}, eventually, 20*time.Millisecond).Should(Equal(1.0))
	g.Eventually(func() bool { return hooked("cold") }, eventually, 20*time.Millisecond).Should(BeTrue())
	up := findByHostname(a.get("/api/v2/vm").list(), "cold")[0]
	mu.Lock()
	g.Expect(str(up, "default_ip")).To(Equal(booted["cold"].PublicIPv4))
	g.Expect(str(up, "private_ip")).To(Equal(booted["cold"].PrivateIP))
	g.Expect(booted["cold"].BootedAt).To(BeTemporally(">=", deadline))
	g.Expect(deleted).NotTo(HaveKey("killed"), "a VM deleted before it was up fires no delete hook")
	mu.Unlock()
}
