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
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestVMLifecycle(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = time.Second })
	a := newAPI(t, srv.URL)

	var mu sync.Mutex
	var booted, deleted []vpsiesim.VM
	srv.OnVMBoot(func(v vpsiesim.VM) { mu.Lock(); booted = append(booted, v); mu.Unlock() })
	srv.OnVMDelete(func(v vpsiesim.VM) { mu.Lock(); deleted = append(deleted, v); mu.Unlock() })
	hooks := func() (int, int) { mu.Lock(); defer mu.Unlock(); return len(booted), len(deleted) }

	cloudInit := "#cloud-config\nruncmd: [kubeadm join]\n"
	r := a.post("/api/v2/vm", createVMBody("node-1", map[string]any{
		"userData": base64.StdEncoding.EncodeToString([]byte(cloudInit)), "projectId": "p1", "notes": "n",
	}))
	g.Expect(r.ok()).To(BeTrue(), r.String())
	g.Expect(r.dataIs("true")).To(BeTrue(), "create answers data:true and no id")

	// Pending first, not listed.
	g.Expect(pendingHostnames(a)).To(Equal([]string{"node-1"}))
	p := a.get("/apps/v2/vm/pending").list()[0]
	g.Expect(num(p, "id")).To(BeNumerically(">", 0))
	g.Expect(p["data"]).To(HaveKeyWithValue("resourceIdentifier", vpsiesim.DefaultPlan))
	g.Expect(p["data"]).To(HaveKeyWithValue("dcIdentifier", vpsiesim.DefaultDatacenter))
	g.Expect(p["data"]).NotTo(HaveKey("vmPassword"))
	g.Expect(p["data"]).NotTo(HaveKey("userData"))
	g.Expect(p["data"]).To(HaveKeyWithValue("hostname", "node-1"))
	g.Expect(p["data"]).To(HaveKeyWithValue("osIdentifier", vpsiesim.DefaultImage))
	g.Expect(p["data"]).To(HaveKey("tags"))
	g.Expect(a.get("/api/v2/vm").list()).To(BeEmpty())
	g.Expect(a.get("/apps/v2/vm").Total).To(BeZero())
	b, _ := hooks()
	g.Expect(b).To(BeZero())

	// Booted after the delay, in both lists, with an address; the hook fired without any request.
	g.Eventually(func() int { n, _ := hooks(); return n }, 10*time.Second, 10*time.Millisecond).Should(Equal(1))
	vm := bootedVM(g, a, "/api/v2", "node-1")
	g.Expect(findByHostname(a.get("/apps/v2/vm").list(), "node-1")).To(HaveLen(1))
	g.Expect(pendingHostnames(a)).To(BeEmpty())
	id := str(vm, "identifier")
	g.Expect(id).To(MatchRegexp(uuidRE.String()))
	g.Expect(num(vm, "id")).To(BeNumerically(">", 0))
	g.Expect(num(vm, "is_active")).To(Equal(1.0))
	g.Expect(num(vm, "power")).To(Equal(1.0))
	g.Expect(num(vm, "cpu")).To(Equal(2.0))
	g.Expect(num(vm, "ram")).To(Equal(4096.0))
	g.Expect(num(vm, "ssd")).To(Equal(80.0))
	g.Expect(str(vm, "dcIdentifier")).To(Equal(vpsiesim.DefaultDatacenter))
	g.Expect(vm["private_ip"]).To(BeNil())
	g.Expect(vm["tags"]).To(ConsistOf("cluster:demo"))
	ip, err := netip.ParseAddr(str(vm, "default_ip"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ip.IsPrivate() || ip.IsLoopback()).To(BeFalse())
	g.Expect(str(vm, "publicIp")).To(Equal(ip.String()))
	g.Expect(booted[0].Identifier).To(Equal(id))
	g.Expect(booted[0].PublicIPv4).To(Equal(ip.String()))

	rec, ok := srv.VM(id)
	g.Expect(ok).To(BeTrue())
	ud, err := rec.DecodedUserData()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(ud)).To(Equal(cloudInit))
	g.Expect(rec.Prefix).To(Equal("/api/v2"))
	g.Expect(string(rec.CreateField("addPublicIpV4"))).To(Equal(`"1"`))
	g.Expect(rec.CreateField("vmPassword")).To(BeNil())
	g.Expect(rec.CreatedAt).NotTo(BeZero())
	g.Expect(rec.BootedAt).To(BeTemporally(">=", rec.CreatedAt.Add(time.Second)))

	// Get by identifier, both prefixes.
	for _, prefix := range []string{"/api/v2", "/apps/v2"} {
		d := a.get(prefix + "/vm/" + id).object()
		g.Expect(d).To(HaveKey("vmData"))
		g.Expect(d["vmData"]).To(HaveKeyWithValue("identifier", id))
		g.Expect(d).To(HaveKey("vmTags"))
		g.Expect(d).To(HaveKey("privateIpData"))
		g.Expect(d).To(HaveKey("floatingIpData"))
		g.Expect(d).To(HaveKey("imageCategories"))
	}
	g.Expect(a.get("/api/v2/vm/status/" + id).object()).To(HaveKeyWithValue("status", "running"))

	// Power and tags.
	g.Expect(a.post("/api/v2/vm/stop", map[string]string{"vmIdentifier": id}).ok()).To(BeTrue())
	g.Expect(num(findByHostname(a.get("/api/v2/vm").list(), "node-1")[0], "power")).To(Equal(0.0))
	g.Expect(a.get("/api/v2/vm/status/" + id).object()).To(HaveKeyWithValue("status", "stopped"))
	g.Expect(a.post("/api/v2/vm/start", map[string]string{"vmIdentifier": id}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/vm/restart", map[string]string{"vmIdentifier": id}).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm/addtags", map[string]any{"vmIdentifier": id, "tags": []string{"machine:m1"}}).ok()).To(BeTrue())
	rec, _ = srv.VM(id)
	g.Expect(rec.State).To(Equal(vpsiesim.VMRunning))
	g.Expect(rec.Restarts).To(Equal(1))
	g.Expect(rec.Tags).To(ConsistOf("cluster:demo", "machine:m1"))

	// Delete needs the password and a reason.
	del := func(body map[string]any) resp { return a.delete("/api/v2/vm", body) }
	reason := map[string]string{"reason": "scale down", "note": "capi"}
	g.Expect(del(map[string]any{"vmIdentifier": id, "deleteStatistic": reason}).errorWith(400, "password is required")).To(BeTrue())
	g.Expect(del(map[string]any{"vmIdentifier": id, "password": "wrong", "deleteStatistic": reason}).errorWith(403, "Invalid account password")).To(BeTrue())
	g.Expect(del(map[string]any{"vmIdentifier": id, "password": testPassword}).errorWith(400, "reason is required")).To(BeTrue())
	g.Expect(del(map[string]any{"vmIdentifier": id, "password": testPassword, "deleteStatistic": map[string]string{"note": "x"}}).errorWith(400, "reason")).To(BeTrue())
	g.Expect(srv.VMs()).To(HaveLen(1))
	_, d := hooks()
	g.Expect(d).To(BeZero())

	g.Expect(del(map[string]any{"vmIdentifier": id, "password": testPassword, "deleteStatistic": reason}).ok()).To(BeTrue())
	_, d = hooks()
	g.Expect(d).To(Equal(1))
	g.Expect(deleted[0].Identifier).To(Equal(id))
	g.Expect(deleted[0].State).To(Equal(vpsiesim.VMDeleted))
	g.Expect(a.get("/api/v2/vm").list()).To(BeEmpty())
	g.Expect(a.get("/api/v2/vm/"+id).dataIs("false")).To(BeTrue(), "GET of a missing VM answers data:false")
	g.Expect(del(map[string]any{"vmIdentifier": id, "password": testPassword, "deleteStatistic": reason}).errorWith(404, "VM not found")).To(BeTrue())
	g.Expect(a.get("/api/v2/vm/status/"+id).errorWith(404, "VM not found")).To(BeTrue())
	g.Expect(srv.VMs()).To(BeEmpty())
	gone := srv.DeletedVMs()
	g.Expect(gone).To(HaveLen(1))
	g.Expect(gone[0].DeletedAt).NotTo(BeZero())
	g.Expect(gone[0].DeleteReason).To(Equal("scale down"))
}

func TestDuplicateHostnamesMakeTwoVMs(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	g.Expect(a.post("/api/v2/vm", createVMBody("twin", nil)).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/vm", createVMBody("TWIN", nil)).ok()).To(BeTrue())
	g.Expect(pendingHostnames(a)).To(ConsistOf("twin", "TWIN"))
	g.Expect(srv.VMsByHostname("twin")).To(HaveLen(2))
	g.Eventually(func() int { return len(findByHostname(a.get("/api/v2/vm").list(), "twin")) }, 10*time.Second, 20*time.Millisecond).Should(Equal(2))
	vms := srv.VMsByHostname("twin")
	g.Expect(vms[0].Identifier).NotTo(Equal(vms[1].Identifier))
	g.Expect(vms[0].PublicIPv4).NotTo(Equal(vms[1].PublicIPv4))
}

func TestFlagsAsStringsAndInts(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)

	g.Expect(a.post("/api/v2/vm", createVMBody("strings", map[string]any{"addPrivateIp": "1", "addPublicIpV6": "1"})).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm", createVMBody("ints", map[string]any{"addPublicIpV4": 1, "addPrivateIp": 1, "backupEnabled": 0})).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm", createVMBody("no-public", map[string]any{"addPublicIpV4": "0", "addPrivateIp": "1"})).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm", createVMBody("absent", map[string]any{"addPublicIpV4": nil})).ok()).To(BeTrue())
	r := a.post("/api/v2/vm", createVMBody("bad", map[string]any{"addPrivateIp": "yes"}))
	g.Expect(r.errorWith(400, "addPrivateIp")).To(BeTrue(), r.String())

	s := srv.VMsByHostname("strings")[0]
	g.Expect(s.AddPrivateIP && s.AddPublicIPv6 && s.AddPublicIPv4).To(BeTrue())
	g.Expect(s.PrivateIP).To(HavePrefix("10.250."))
	g.Expect(s.PublicIPv6).To(HavePrefix("2001:db8:"))
	g.Expect(s.NumericFlags).To(BeEmpty())
	i := srv.VMsByHostname("ints")[0]
	g.Expect(i.AddPrivateIP).To(BeTrue())
	g.Expect(i.PrivateIP).NotTo(BeEmpty())
	g.Expect(i.NumericFlags).To(ConsistOf("addPublicIpV4", "addPrivateIp", "backupEnabled"))
	np := findByHostname(a.get("/api/v2/vm").list(), "no-public")[0]
	g.Expect(np["publicIp"]).To(BeNil())
	g.Expect(str(np, "default_ip")).To(HavePrefix("10.250."))
	g.Expect(srv.VMsByHostname("absent")[0].PublicIPv4).NotTo(BeEmpty(), "addPublicIpV4 defaults to 1")

	// The real API reportedly ignores numeric flags: so does the simulator on request.
	srv2 := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.IgnoreNumericFlags = true })
	a2 := newAPI(t, srv2.URL)
	g.Expect(a2.post("/api/v2/vm", createVMBody("ints", map[string]any{"addPrivateIp": 1, "addPublicIpV4": 0})).ok()).To(BeTrue())
	v := srv2.VMsByHostname("ints")[0]
	g.Expect(v.AddPrivateIP).To(BeFalse())
	g.Expect(v.PrivateIP).To(BeEmpty())
	g.Expect(v.PublicIPv4).NotTo(BeEmpty())
}

func TestCreateValidation(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	cases := []struct {
		over map[string]any
		msg  string
	}{
		{map[string]any{"resourceIdentifier": "no-such-plan"}, "Invalid resourceIdentifier"},
		{map[string]any{"osIdentifier": "no-such-image"}, "Invalid osIdentifier"},
		{map[string]any{"dcIdentifier": "no-such-dc"}, "Invalid dcIdentifier"},
		{map[string]any{"hostname": ""}, "hostname is required"},
		{map[string]any{"hostname": nil}, "hostname is required"},
		{map[string]any{"hostname": "bad_name!"}, "Invalid hostname"},
		{map[string]any{"resourceIdentifier": nil}, "resourceIdentifier is required"},
		{map[string]any{"dcIdentifier": "dc000000-0000-4000-8000-000000000002", "resourceIdentifier": "9a000000-0000-4000-8000-000000000006"}, "not available in this datacenter"},
		{map[string]any{"dcIdentifier": "dc000000-0000-4000-8000-000000000004", "osIdentifier": vpsiesim.DefaultCustomImage}, "Image is not available"},
		{map[string]any{"dcIdentifier": "dc000000-0000-4000-8000-000000000006"}, "Datacenter is not available"},
		{map[string]any{"userData": "%%% not base64"}, "userData must be base64"},
		{map[string]any{"sshKeyIdentifier": "nope"}, "SSH key not found"},
		{map[string]any{"scriptIdentifier": "nope"}, "Script not found"},
		{map[string]any{"tags": "not-a-list"}, "Invalid request body"},
	}
	for _, c := range cases {
		r := a.post("/api/v2/vm", createVMBody("v", c.over))
		g.Expect(r.errorWith(400, c.msg)).To(BeTrue(), "%v: %s", c.over, r.String())
		g.Expect(r.Code).To(Equal(400))
	}
	g.Expect(srv.VMs()).To(BeEmpty())
	g.Expect(a.get("/apps/v2/vm/pending").list()).To(BeEmpty())
}

func TestVMPrefixesAreConfigurable(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.VMPrefixes = []string{"/api/v2"} })
	a := newAPI(t, srv.URL)
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
	r := a.get("/apps/v2/vm")
	g.Expect(r.errorWith(404, "Not found")).To(BeTrue(), r.String())
	g.Expect(a.get("/apps/v2/vm/pending").ok()).To(BeTrue(), "the pending queue keeps its /apps/v2 path")
	g.Expect(a.get("/api/v2/vm/pending").ok()).To(BeTrue())
	g.Expect(srv.RequestCount("UNMATCHED")).To(Equal(1))
	g.Expect(srv.Routes()).To(ContainElements("GET /api/v2/vm", "GET /apps/v2/vm/pending"))
	g.Expect(srv.Routes()).NotTo(ContainElement("GET /apps/v2/vm"))
}

func TestDeleteDelayKeepsVMListedUntilGone(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.DeleteDelay = time.Second })
	a := newAPI(t, srv.URL)
	var deleted sync.WaitGroup
	deleted.Add(1)
	srv.OnVMDelete(func(vpsiesim.VM) { deleted.Done() })
	g.Expect(a.post("/api/v2/vm", createVMBody("slow-delete", nil)).ok()).To(BeTrue())
	id := srv.VMsByHostname("slow-delete")[0].Identifier
	body := map[string]any{"vmIdentifier": id, "password": testPassword, "deleteStatistic": map[string]string{"reason": "r"}}
	g.Expect(a.delete("/api/v2/vm", body).ok()).To(BeTrue())
	listed := findByHostname(a.get("/api/v2/vm").list(), "slow-delete")
	g.Expect(listed).To(HaveLen(1))
	g.Expect(num(listed[0], "power")).To(Equal(0.0))
	g.Expect(a.delete("/api/v2/vm", body).ok()).To(BeTrue(), "deleting twice while deleting is accepted")
	g.Expect(a.post("/api/v2/vm/start", map[string]string{"vmIdentifier": id}).errorWith(400, "being deleted")).To(BeTrue())
	g.Eventually(func() []map[string]any { return a.get("/api/v2/vm").list() }, 10*time.Second, 20*time.Millisecond).Should(BeEmpty())
	deleted.Wait()
}

func TestCloseStopsBootTimers(t *testing.T) {
	g := NewWithT(t)
	srv := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{testToken}, BootDelay: time.Second})
	fired := make(chan struct{}, 10)
	srv.OnVMBoot(func(vpsiesim.VM) { fired <- struct{}{} })
	a := newAPI(t, srv.URL)
	for i := range 5 {
		g.Expect(a.post("/api/v2/vm", createVMBody(fmt.Sprintf("n%d", i), nil)).ok()).To(BeTrue())
	}
	srv.Close()
	g.Consistently(fired, 1500*time.Millisecond).ShouldNot(Receive())
}

func TestSSHKeysScriptsAndTags(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)

	g.Expect(a.post("/apps/v2/sshkey/add", map[string]string{"name": "k1", "privateKey": "ssh-ed25519 AAAA test"}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/sshkey/add", map[string]string{"name": "k2", "privateKey": "not a key"}).errorWith(400, "Invalid SSH key")).To(BeTrue())
	keys := a.get("/apps/v2/sshkeys").list()
	g.Expect(keys).To(HaveLen(1))
	g.Expect(keys[0]).To(HaveKeyWithValue("private_key", "ssh-ed25519 AAAA test"))
	keyID := str(keys[0], "identifier")

	g.Expect(a.post("/apps/v2/script/add", map[string]string{"name": "s", "scriptContent": "echo hi", "scriptType": "bash"}).ok()).To(BeTrue())
	scriptID := str(a.get("/apps/v2/scripts").list()[0], "identifier")

	g.Expect(a.post("/api/v2/vm", createVMBody("keyed", map[string]any{"sshKeyIdentifier": keyID, "scriptIdentifier": scriptID})).ok()).To(BeTrue())
	vm := srv.VMsByHostname("keyed")[0]
	g.Expect(vm.SSHKeyIdentifier).To(Equal(keyID))
	g.Expect(a.post("/api/v2/vm/sshkey", map[string]string{"vmIdentifier": vm.Identifier, "sshKeyIdentifier": "nope"}).errorWith(404, "SSH key not found")).To(BeTrue())
	g.Expect(a.post("/api/v2/vm/sshkey", map[string]string{"vmIdentifier": vm.Identifier, "sshKeyIdentifier": keyID}).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm/script", map[string]string{"vmIdentifier": vm.Identifier, "scriptIdentifier": scriptID}).ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm/script", map[string]string{"vmIdentifier": "nope", "scriptIdentifier": scriptID}).errorWith(404, "VM not found")).To(BeTrue())
	vm, _ = srv.VM(vm.Identifier)
	g.Expect(vm.ScriptsRun).To(Equal([]string{scriptID}))

	g.Expect(a.delete("/apps/v2/sshkey", map[string]string{"identifier": keyID}).ok()).To(BeTrue())
	g.Expect(a.delete("/apps/v2/sshkey", map[string]string{"identifier": keyID}).errorWith(404, "not found")).To(BeTrue())
	g.Expect(srv.SSHKeys()).To(BeEmpty())

	g.Expect(a.post("/apps/v2/tags/add", map[string]string{"name": "owner:capvpsie", "color": "#ff0000"}).ok()).To(BeTrue())
	g.Expect(a.post("/apps/v2/tags/add", map[string]string{"name": "owner:capvpsie"}).ok()).To(BeTrue())
	names := []string{}
	for _, tg := range a.get("/apps/v2/tags").list() {
		names = append(names, str(tg, "name"))
	}
	g.Expect(names).To(ConsistOf("cluster:demo", "owner:capvpsie"))
	g.Expect(a.put("/apps/v2/tags/edit", map[string]any{"entity": "vm", "identifier": vm.Identifier, "tags": []string{"owner:capvpsie"}}).ok()).To(BeTrue())
	g.Expect(a.put("/apps/v2/tags/edit", map[string]any{"entity": "vm", "identifier": "nope", "tags": []string{"x"}}).errorWith(404, "VM not found")).To(BeTrue())
	g.Expect(a.put("/apps/v2/tags/edit", map[string]any{"entity": "disk", "identifier": vm.Identifier}).errorWith(400, "entity")).To(BeTrue())
	vm, _ = srv.VM(vm.Identifier)
	g.Expect(vm.Tags).To(Equal([]string{"owner:capvpsie"}))
}

func TestConcurrentUse(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = 20 * time.Millisecond })
	a := newAPI(t, srv.URL)
	var booted sync.WaitGroup
	booted.Add(40)
	srv.OnVMBoot(func(vpsiesim.VM) { booted.Done() })
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				a.post("/api/v2/vm", createVMBody(fmt.Sprintf("w%d-%d", w, i), nil))
				a.get("/apps/v2/vm")
				a.get("/apps/v2/vm/pending")
				_ = srv.VMs()
				_ = srv.Requests()
			}
		}()
	}
	wg.Wait()
	booted.Wait()
	g.Expect(a.get("/api/v2/vm").Total).To(Equal(40))
	g.Expect(srv.RequestCount("POST /api/v2/vm")).To(Equal(40))
}
