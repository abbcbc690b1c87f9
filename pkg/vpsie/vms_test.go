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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func validCreate() CreateVMRequest {
	return CreateVMRequest{
		ResourceIdentifier: "plan-small", OSIdentifier: "os-ubuntu", DcIdentifier: "dc-1",
		Hostname: "capvpsie-demo-md-0-abcde",
	}
}

func TestListVMsTolerantDecoding(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm", 200, testdata(t, "vm_list.json"))
	c, _ := newTestClient(t, f)

	vms, err := c.ListVMs(context.Background(), ListVMsOptions{ProjectID: "55"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(2))
	a, b := vms[0], vms[1]
	g.Expect(a.RAM).To(Equal(Int(4096)), "ram arrives as a string")
	g.Expect(a.CPU).To(Equal(Int(2)))
	g.Expect(a.ProjectID).To(Equal(ID("55")), "project_id is merged into ProjectID")
	g.Expect(a.PrivateIP).To(BeEmpty(), "null string")
	g.Expect(a.IsUp()).To(BeTrue())
	g.Expect(b.ID).To(Equal(Int(102)))
	g.Expect(b.RAM).To(Equal(Int(2048)))
	g.Expect(b.SSD).To(Equal(Int(40)))
	g.Expect(b.ProjectID).To(Equal(ID("56")))
	g.Expect(b.IsActive).To(Equal(Int(1)))
	g.Expect(b.IsUp()).To(BeFalse(), "powered off")

	q := f.requests("GET /api/v2/vm")[0]
	g.Expect(q.RawQuery).To(ContainSubstring("projectId=55"))
	g.Expect(q.RawQuery).To(ContainSubstring("offset=0"))
}

func TestListVMsRowsCountAndAppsPrefix(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/vm", 200, testdata(t, "vm_list_rows.json"))
	c, _ := newTestClient(t, f, func(c *Config) { c.VMPathPrefix = VMPrefixApps })
	vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(2))
	g.Expect(vms[0].ID).To(Equal(Int(201)))
	g.Expect(vms[0].IsUp()).To(BeTrue())
}

// vmPage serves n VMs with offset/limit paging (or ignoring offset when ignoreOffset).
func vmPage(n int, ignoreOffset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if ignoreOffset {
			offset = 0
		}
		var items []string
		for i := offset; i < n && i < offset+limit; i++ {
			items = append(items, fmt.Sprintf(`{"id":%d,"identifier":"vm-%d","hostname":"h%d"}`, i+1, i+1, i+1))
		}
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":[%s],"total":%d}`, strings.Join(items, ","), n))
	}
}

func TestListVMsPaging(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /api/v2/vm", vmPage(250, false))
	c, _ := newTestClient(t, f)
	vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(250))
	g.Expect(f.count("GET /api/v2/vm")).To(Equal(3))
	g.Expect(f.requests("GET /api/v2/vm")[2].RawQuery).To(ContainSubstring("offset=200"))
}

// A server that ignores offset while announcing more than one page can never give the whole
// list: the repeated page is detected, and the call fails instead of returning a partial list.
func TestListPagingFailsWhenServerIgnoresOffset(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /api/v2/vm", vmPage(250, true))
	c, _ := newTestClient(t, f)
	vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
	g.Expect(err).To(MatchError(ContainSubstring("incomplete list: got 100 of total 250")))
	g.Expect(vms).To(BeNil())
	g.Expect(f.count("GET /api/v2/vm")).To(Equal(2), "the repeated page is detected")
}

func TestGetVM(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm/2f1d3a6e-0c1b-4b8e-9a55-2a5b0c3f4d01", 200, testdata(t, "vm_get.json"))
	c, _ := newTestClient(t, f)
	d, err := c.GetVM(context.Background(), "2f1d3a6e-0c1b-4b8e-9a55-2a5b0c3f4d01")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.VM.Hostname).To(Equal(String("capvpsie-demo-md-0-abcde")))
	g.Expect(d.VM.ProjectID).To(Equal(ID("55")))
	g.Expect(d.VM.IsUp()).To(BeTrue())
	g.Expect(d.Tags).To(HaveLen(3))
	g.Expect([]String{d.Tags[0].Name, d.Tags[1].Name, d.Tags[2].Name}).To(Equal([]String{"capvpsie-cluster-demo", "capvpsie-owned", "legacy"}))
	g.Expect(d.PrivateIPs).To(HaveLen(1))
	g.Expect(d.PrivateIPs[0].ID).To(Equal(ID("9001")))
	g.Expect(d.PrivateIPs[0].IP).To(Equal(String("10.10.0.4")))
	g.Expect(d.PrivateIPs[0].VPCID).To(Equal(ID("77")))
	g.Expect(string(d.PrivateIPs[0].Raw)).To(ContainSubstring("9001"))
	g.Expect(d.FloatingIPs[0].IP).To(Equal(String("192.0.2.50")))
	g.Expect(d.FloatingIPs[0].ID).To(Equal(ID("fip-1")))
}

func TestGetVMWithoutWrapper(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm/vm-9", 200, `{"error":false,"data":{"id":9,"identifier":"vm-9","hostname":"h9"}}`)
	c, _ := newTestClient(t, f)
	d, err := c.GetVM(context.Background(), "vm-9")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.VM.Hostname).To(Equal(String("h9")))
}

func TestGetVMNotFound(t *testing.T) {
	for name, body := range map[string]string{
		"data:false":     `{"error":false,"data":false}`,
		"no vmData":      `{"error":false,"data":{"vmTags":[]}}`,
		"not-found text": `{"error":true,"code":500,"message":"Vm not found"}`,
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			f.reply("GET /api/v2/vm/missing", 200, body)
			c, _ := newTestClient(t, f)
			_, err := c.GetVM(context.Background(), "missing")
			g.Expect(IsNotFound(err)).To(BeTrue(), "%v", err)
			g.Expect(f.count("GET /api/v2/vm/missing")).To(Equal(1), "not found is not retried")
		})
	}
}

func TestCreateVMWireFormat(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST /api/v2/vm", 200, testdata(t, "ok_true.json"))
	c, _ := newTestClient(t, f)
	userData := []byte("#cloud-config\nruncmd: [kubeadm join]\n")
	req := validCreate()
	req.ProjectID = "55"
	req.SSHKeyIdentifier = "key-1"
	req.Tags = []string{"capvpsie-cluster-demo", "capvpsie-owned"}
	req.AddPublicIPv4 = true
	req.AddPrivateIP = true
	req.UserData = userData
	g.Expect(c.CreateVM(context.Background(), req)).To(Succeed())

	r := f.requests("POST /api/v2/vm")[0]
	g.Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
	body := r.JSON(t)
	g.Expect(body["addPublicIpV4"]).To(Equal("1"))
	g.Expect(body["addPrivateIp"]).To(Equal("1"))
	g.Expect(body["addPublicIpV6"]).To(Equal("0"))
	g.Expect(body["backupEnabled"]).To(Equal("0"))
	g.Expect(body["weeklyBackupEnabled"]).To(Equal("0"))
	g.Expect(body["monthlyBackupEnabled"]).To(Equal("0"))
	g.Expect(body["userData"]).To(Equal(base64.StdEncoding.EncodeToString(userData)))
	g.Expect(body["sshKeyIdentifier"]).To(Equal("key-1"))
	g.Expect(body["tags"]).To(Equal([]any{"capvpsie-cluster-demo", "capvpsie-owned"}))
	g.Expect(body["hostname"]).To(Equal("capvpsie-demo-md-0-abcde"))
	g.Expect(body["resourceIdentifier"]).To(Equal("plan-small"))
	g.Expect(body["osIdentifier"]).To(Equal("os-ubuntu"))
	g.Expect(body["dcIdentifier"]).To(Equal("dc-1"))
	g.Expect(body["projectId"]).To(Equal("55"))
	g.Expect(body).NotTo(HaveKey("UserData"))
	g.Expect(body).NotTo(HaveKey("vmPassword"))
}

func TestCreateVMErrors(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("POST /api/v2/vm", sequence(
		answer(200, testdata(t, "error_invalid_os.json")),
		answer(200, `{"error":true,"message":"Datacenter not found"}`),
	))
	c, _ := newTestClient(t, f)
	err := c.CreateVM(context.Background(), validCreate())
	g.Expect(IsTerminal(err)).To(BeTrue())
	g.Expect(err.Error()).To(ContainSubstring("Invalid osIdentifier"))
	g.Expect(err.Error()).NotTo(ContainSubstring("app.js"), "the server stack is not echoed")
	err = c.CreateVM(context.Background(), validCreate())
	g.Expect(IsTerminal(err)).To(BeTrue(), "a missing datacenter on create cannot be fixed by retrying")

	bad := validCreate()
	bad.Hostname = ""
	g.Expect(IsTerminal(c.CreateVM(context.Background(), bad))).To(BeTrue())
	g.Expect(f.count("POST /api/v2/vm")).To(Equal(2), "an invalid request is refused locally")
}

func TestDeleteVMCarriesPasswordAndReason(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("DELETE /api/v2/vm", sequence(answer(503, "<html>503</html>"), answer(200, testdata(t, "ok_true.json"))))
	c, _ := newTestClient(t, f)
	g.Expect(c.DeleteVM(context.Background(), "vm-1", "acct-pass", "scale down", "machine md-0-abc")).To(Succeed())

	reqs := f.requests("DELETE /api/v2/vm")
	g.Expect(reqs).To(HaveLen(2), "a delete of a known identifier is idempotent and retried")
	g.Expect(reqs[0].Header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(reqs[1].JSON(t)).To(Equal(map[string]any{
		"vmIdentifier":    "vm-1",
		"password":        "acct-pass",
		"deleteStatistic": map[string]any{"reason": "scale down", "note": "machine md-0-abc"},
	}))

	g.Expect(c.DeleteVM(context.Background(), "vm-1", "acct-pass", "", "")).To(Succeed())
	g.Expect(f.requests("DELETE /api/v2/vm")[2].JSON(t)["deleteStatistic"]).To(HaveKeyWithValue("reason", DefaultDeleteReason))

	err := c.DeleteVM(context.Background(), "vm-1", "", "r", "n")
	g.Expect(IsTerminal(err)).To(BeTrue())
	g.Expect(IsTerminal(c.DeleteVM(context.Background(), "", "p", "r", "n"))).To(BeTrue())
	g.Expect(f.count("DELETE /api/v2/vm")).To(Equal(3))
}

func TestPowerActionsAndTags(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	for _, p := range []string{"/apps/v2/vm/start", "/apps/v2/vm/stop", "/apps/v2/vm/restart", "/apps/v2/vm/addtags"} {
		f.reply("POST "+p, 200, testdata(t, "ok_true.json"))
	}
	c, _ := newTestClient(t, f, func(c *Config) { c.VMPathPrefix = "/apps/v2/" })
	ctx := context.Background()
	g.Expect(c.StartVM(ctx, "vm-1")).To(Succeed())
	g.Expect(c.StopVM(ctx, "vm-1")).To(Succeed())
	g.Expect(c.RestartVM(ctx, "vm-1")).To(Succeed())
	g.Expect(c.AddVMTags(ctx, "vm-1", []string{"a", "b"})).To(Succeed())
	g.Expect(c.AddVMTags(ctx, "vm-1", nil)).To(Succeed())
	g.Expect(IsTerminal(c.StartVM(ctx, ""))).To(BeTrue())
	g.Expect(IsTerminal(c.AddVMTags(ctx, "", nil))).To(BeTrue())

	for _, p := range []string{"/apps/v2/vm/start", "/apps/v2/vm/stop", "/apps/v2/vm/restart"} {
		g.Expect(f.requests("POST " + p)[0].JSON(t)).To(Equal(map[string]any{"vmIdentifier": "vm-1"}))
	}
	tags := f.requests("POST /apps/v2/vm/addtags")
	g.Expect(tags[0].JSON(t)).To(Equal(map[string]any{"vmIdentifier": "vm-1", "tags": []any{"a", "b"}}))
	g.Expect(tags[1].JSON(t)["tags"]).To(Equal([]any{}))
}

func TestPowerActionNotRetried(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("POST /api/v2/vm/stop", 502, "<html>502</html>")
	c, _ := newTestClient(t, f)
	g.Expect(IsTransient(c.StopVM(context.Background(), "vm-1"))).To(BeTrue())
	g.Expect(f.count("POST /api/v2/vm/stop")).To(Equal(1))
}

func TestGetVMStatusAndPending(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm/status/vm-1", 200, testdata(t, "vm_status.json"))
	f.reply("GET /api/v2/vm/status/gone", 200, testdata(t, "data_false.json"))
	f.reply("GET "+pendingVMsPath, 200, testdata(t, "vm_pending.json"))
	f.reply("GET /api/v2/vm/pending", 500, "<html>wrong prefix</html>")
	c, _ := newTestClient(t, f)
	ctx := context.Background()

	st, err := c.GetVMStatus(ctx, "vm-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Status).To(Equal(String("running")))
	g.Expect(st.Uptime).To(Equal(Int(3600)))
	g.Expect(float64(st.CPU)).To(BeNumerically("~", 0.03))
	_, err = c.GetVMStatus(ctx, "gone")
	g.Expect(IsNotFound(err)).To(BeTrue())
	_, err = c.GetVMStatus(ctx, "")
	g.Expect(IsTerminal(err)).To(BeTrue())

	pending, err := c.ListPendingVMs(ctx)
	g.Expect(err).NotTo(HaveOccurred(), "pending VMs are always under /apps/v2")
	g.Expect(pending).To(HaveLen(1))
	g.Expect(pending[0].ID).To(Equal(ID("6650f1e2a1b2c3d4e5f60718")))
	g.Expect(pending[0].Data.ProjectID).To(Equal(ID("55")))
	g.Expect(pending[0].Data.Tags).To(Equal([]String{"capvpsie-cluster-demo"}))
	g.Expect(FindPendingVMsByHostname(pending, "capvpsie-demo-md-0-FGHIJ")).To(HaveLen(1))
	g.Expect(FindPendingVMsByHostname(pending, "capvpsie-demo-md-0")).To(BeEmpty())
}

func TestVMIsUp(t *testing.T) {
	up := VM{IsActive: 1, Power: 1, DefaultIP: "203.0.113.1"}
	for _, tc := range []struct {
		name string
		mod  func(*VM)
		want bool
	}{
		{"up", func(*VM) {}, true},
		{"only private address", func(v *VM) { v.DefaultIP = ""; v.PrivateIP = "10.0.0.2" }, true},
		{"only publicIp", func(v *VM) { v.DefaultIP = ""; v.PublicIP = "203.0.113.2" }, true},
		{"only IPv6", func(v *VM) { v.DefaultIP = ""; v.DefaultIPv6 = "2001:db8::1" }, true},
		{"no address", func(v *VM) { v.DefaultIP = "" }, false},
		{"inactive", func(v *VM) { v.IsActive = 0 }, false},
		{"powered off", func(v *VM) { v.Power = 0 }, false},
		{"suspended", func(v *VM) { v.IsSuspended = 1 }, false},
		{"locked", func(v *VM) { v.IsLocked = 1 }, false},
		{"terminated", func(v *VM) { v.IsTerminated = 1 }, false},
		{"deleted", func(v *VM) { v.IsDeleted = 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := up
			tc.mod(&v)
			NewWithT(t).Expect(v.IsUp()).To(Equal(tc.want))
		})
	}
	g := NewWithT(t)
	g.Expect((&VM{IsTerminated: 1}).IsGone()).To(BeTrue())
	g.Expect(up.IsGone()).To(BeFalse())
	g.Expect((&VM{PublicIP: "1.2.3.4"}).PublicIPv4()).To(Equal("1.2.3.4"))
}

func TestFindVMsByHostname(t *testing.T) {
	g := NewWithT(t)
	vms := []VM{{Hostname: "capvpsie-a"}, {Hostname: "CAPVPSIE-B"}, {Hostname: "capvpsie-b"}, {Hostname: "capvpsie-bb"}}
	g.Expect(FindVMsByHostname(vms, "capvpsie-b")).To(HaveLen(2))
	g.Expect(FindVMsByHostname(vms, "Capvpsie-A")).To(Equal([]VM{{Hostname: "capvpsie-a"}}))
	g.Expect(FindVMsByHostname(vms, "capvpsie")).To(BeEmpty())
	g.Expect(FindVMsByHostname(nil, "x")).To(BeEmpty())
}

func TestVMTagAndIPDecoding(t *testing.T) {
	g := NewWithT(t)
	var tags []VMTag
	g.Expect(json.Unmarshal([]byte(`["a", 5, {"name":"b","color":"#fff"}, {"tag":"c"}]`), &tags)).To(Succeed())
	g.Expect([]String{tags[0].Name, tags[1].Name, tags[2].Name, tags[3].Name}).To(Equal([]String{"a", "5", "b", "c"}))
	var ips []PrivateIP
	g.Expect(json.Unmarshal([]byte(`[{"privateIpId":3,"ip_address":"10.0.0.9","vpc_id":7},{"id":"4","ip":"10.0.0.8"}]`), &ips)).To(Succeed())
	g.Expect(ips[0].ID).To(Equal(ID("3")))
	g.Expect(ips[0].IP).To(Equal(String("10.0.0.9")))
	g.Expect(ips[0].VPCID).To(Equal(ID("7")))
	g.Expect(ips[1].IP).To(Equal(String("10.0.0.8")))
	var fips []FloatingIP
	g.Expect(json.Unmarshal([]byte(`[{"id":1,"floating_ip":"192.0.2.9"}]`), &fips)).To(Succeed())
	g.Expect(fips[0].IP).To(Equal(String("192.0.2.9")))
	var bad VMTag
	g.Expect(json.Unmarshal([]byte(`{"name":`), &bad)).NotTo(Succeed())
}
