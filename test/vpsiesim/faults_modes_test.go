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
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// rawDo sends a JSON request and returns the transport's error rather than failing the test: a lost answer is
// a network error, not an HTTP status.
func rawDo(c *http.Client, method, url string, body any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Vpsie-Auth", testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.ReadAll(res.Body)
	return res.StatusCode, err
}

// attachSetup makes a running VM and two VPCs in the default datacenter and returns the VM's identifier
// and the VPC ids.
func attachSetup(g Gomega, srv *vpsiesim.Server, a *api, hostname string) (string, int, int) {
	g.Expect(a.post("/api/v2/vm", createVMBody(hostname, nil)).ok()).To(BeTrue())
	for _, n := range []string{hostname + "-a", hostname + "-b"} {
		g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": n, "dcIdentifier": vpsiesim.DefaultDatacenter, "autoGenerate": 1}).ok()).To(BeTrue())
	}
	vpcs := srv.VPCs()
	return srv.VMsByHostname(hostname)[0].Identifier, vpcs[len(vpcs)-2].ID, vpcs[len(vpcs)-1].ID
}

func attach(a *api, vm string, vpc int) resp {
	return a.post("/apps/v2/vm/add/vpc", map[string]any{"vmIdentifier": vm, "vpcId": vpc, "dcIdentifier": vpsiesim.DefaultDatacenter})
}

func privateIPs(a *api, vm string) []any {
	d, _ := a.get("/api/v2/vm/" + vm).object()["privateIpData"].([]any)
	return d
}

func TestAsyncVPCAttachJoinsLater(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)

	// Off by default: the private IP is there when the attach answers.
	vm, vpc, _ := attachSetup(g, srv, a, "sync")
	g.Expect(attach(a, vm, vpc).ok()).To(BeTrue())
	g.Expect(privateIPs(a, vm)).To(HaveLen(1))

	srv.SetFaults(vpsiesim.Faults{AsyncVPCAttach: window})
	vm, vpc, other := attachSetup(g, srv, a, "async")
	g.Expect(attach(a, vm, vpc).ok()).To(BeTrue(), "accepted at once")
	rec, _ := srv.VM(vm)
	g.Expect(rec.PendingVPCID).To(Equal(vpc), "the truth: joining")
	g.Expect(rec.VPCID).To(BeZero())
	ips, listed := privateIPs(a, vm), findByHostname(a.get("/api/v2/vm").list(), "async")[0]
	again, elsewhere := attach(a, vm, vpc), attach(a, vm, other)
	if inWindow(t, rec.VPCAttachAt, "async attach") {
		g.Expect(ips).To(BeEmpty(), "not joined yet")
		g.Expect(listed["private_ip"]).To(BeNil())
	}
	g.Expect(again.errorWith(400, "already attached to a VPC")).To(BeTrue(), "a pending attach counts as attached: %s", again)
	g.Expect(elsewhere.errorWith(400, "already attached to a VPC")).To(BeTrue())

	g.Eventually(func() []any { return privateIPs(a, vm) }, eventually, 20*time.Millisecond).Should(HaveLen(1))
	rec, _ = srv.VM(vm)
	g.Expect(rec.VPCID).To(Equal(vpc))
	g.Expect(rec.PendingVPCID).To(BeZero())
	vpcObj := a.get(fmt.Sprintf("/apps/v2/vpc/%d", vpc)).object()
	pfx := netip.MustParsePrefix(str(vpcObj, "network_range") + "/" + str(vpcObj, "network_size"))
	g.Expect(pfx.Contains(netip.MustParseAddr(str(findByHostname(a.get("/api/v2/vm").list(), "async")[0], "private_ip")))).To(BeTrue())
	g.Expect(vpcObj["vms"]).To(HaveLen(1))
}

func TestAlreadyAttachedError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults vpsiesim.Faults
		// sameVPC: attach again to the VPC the VM is in; otherwise to another one.
		sameVPC      bool
		status, code int
		message      string
	}{
		{"off: same VPC is a plain 400", vpsiesim.Faults{}, true, 400, 400, "VM is already attached to a VPC"},
		{"on: same VPC is HTTP 200 with error", vpsiesim.Faults{AlreadyAttachedError: true}, true, 200, 400, "VM is already attached to this VPC"},
		{"on: another VPC is still a plain 400", vpsiesim.Faults{AlreadyAttachedError: true}, false, 400, 400, "VM is already attached to a VPC"},
		{"on, async: a pending attach to the same VPC too", vpsiesim.Faults{AlreadyAttachedError: true, AsyncVPCAttach: time.Hour}, true, 200, 400, "already attached to this VPC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.Faults = tc.faults })
			a := newAPI(t, srv.URL)
			vm, vpc, other := attachSetup(g, srv, a, "node")
			g.Expect(attach(a, vm, vpc).ok()).To(BeTrue())
			target := other
			if tc.sameVPC {
				target = vpc
			}
			r := attach(a, vm, target)
			g.Expect(r.Status).To(Equal(tc.status), r.String())
			g.Expect(r.Error).To(BeTrue())
			g.Expect(r.Code).To(Equal(tc.code))
			g.Expect(r.Message).To(ContainSubstring(tc.message))
		})
	}
}

func TestRateLimitWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	for _, noHeader := range []bool{false, true} {
		t.Run(fmt.Sprint("RateLimitNoRetryAfter=", noHeader), func(t *testing.T) {
			g := NewWithT(t)
			srv := newSim(t, func(o *vpsiesim.Options) {
				o.Faults = vpsiesim.Faults{RateLimit: 1, RateLimitWindow: time.Hour, RateLimitNoRetryAfter: noHeader}
			})
			a := newAPI(t, srv.URL)
			g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
			r := a.get("/api/v2/vm")
			g.Expect(r.errorWith(429, "Too many requests")).To(BeTrue())
			_, has := r.Header["Retry-After"]
			g.Expect(has).To(Equal(!noHeader))
		})
	}
}

func TestMissingRoutesAnswerLikeUnmatchedOnes(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	unmatched := a.get("/no/such/route")
	g.Expect(unmatched.errorWith(404, "Not found")).To(BeTrue())

	// Off by default: the route answers.
	g.Expect(a.get("/api/v2/lbs/pending").ok()).To(BeTrue())

	srv.SetFaults(vpsiesim.Faults{MissingRoutes: []string{"GET /api/v2/lbs/pending", "POST /api/v2/vm"}})
	for _, r := range []resp{a.get("/api/v2/lbs/pending"), a.anonymous().get("/api/v2/lbs/pending"), a.post("/api/v2/vm", createVMBody("x", nil))} {
		g.Expect(r.Status).To(Equal(404))
		g.Expect(r.Body).To(MatchJSON(`{"error":true,"code":404,"message":"Not found","stack":""}`))
		g.Expect(r.Body).To(Equal(unmatched.Body), "indistinguishable from a route that does not exist")
	}
	g.Expect(srv.VMs()).To(BeEmpty(), "a missing route does nothing")
	g.Expect(srv.RequestCount("GET /api/v2/lbs/pending")).To(Equal(3), "counted under the route's key")
	g.Expect(a.post("/apps/v2/vm", createVMBody("x", nil)).ok()).To(BeTrue(), "other keys of the same handler are served")
	g.Expect(a.get("/apps/v2/vm/pending").ok()).To(BeTrue())
}

func TestLostAnswersAreProcessedThenDropped(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1; o.LBPendingDelay = -1 })
	a := newAPI(t, srv.URL)
	c := srv.Client()
	create := func(h string) (int, error) {
		return rawDo(c, http.MethodPost, srv.URL+"/api/v2/vm", createVMBody(h, nil))
	}

	// Off by default.
	st, err := create("plain")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(200))

	srv.SetFaults(vpsiesim.Faults{LostAnswerNext: 3})
	st, err = rawDo(c, http.MethodGet, srv.URL+"/api/v2/vm", nil)
	g.Expect(err).NotTo(HaveOccurred(), "reads keep their answers")
	g.Expect(st).To(Equal(200))
	st, err = rawDo(c, http.MethodPost, srv.URL+"/apps/v2/resources", nil)
	g.Expect(err).NotTo(HaveOccurred(), "so do read-only POSTs")
	g.Expect(st).To(Equal(400))
	g.Expect(srv.Faults().LostAnswerNext).To(Equal(3))

	_, err = create("lost")
	g.Expect(err).To(HaveOccurred(), "a network error, not an HTTP status")
	g.Expect(srv.VMsByHostname("lost")).To(HaveLen(1), "the VM was created all the same")
	id := srv.VMsByHostname("plain")[0].Identifier
	_, err = rawDo(c, http.MethodDelete, srv.URL+"/api/v2/vm", map[string]any{"vmIdentifier": id, "password": testPassword,
		"deleteStatistic": map[string]string{"reason": "test"}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(srv.VMsByHostname("plain")).To(BeEmpty(), "deleted all the same")
	_, err = rawDo(c, http.MethodPut, srv.URL+"/apps/v2/tags/edit", map[string]any{"entity": "vm",
		"identifier": srv.VMsByHostname("lost")[0].Identifier, "tags": []string{"owned"}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(srv.VMsByHostname("lost")[0].Tags).To(Equal([]string{"owned"}))
	st, err = create("answered")
	g.Expect(err).NotTo(HaveOccurred(), "the next requests are answered again")
	g.Expect(st).To(Equal(200))

	// Routes narrows lost answers like the other per-request faults; login is never a victim.
	srv.SetFaults(vpsiesim.Faults{LostAnswerRate: 1, Routes: []string{"POST /api/v2/vm", loginKey}})
	_, err = rawDo(c, http.MethodPost, srv.URL+"/apps/v2/tags/add", map[string]string{"name": "t"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = create("rate")
	g.Expect(err).To(HaveOccurred())
	g.Expect(a.anonymous().post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID, "clientSecret": testSecret}).ok()).To(BeTrue())
}

const loginKey = "POST /apps/v2/auth/from/api"

func TestLostAnswerRateIsSeeded(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	run := func() []bool {
		srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{LostAnswerRate: 0.5} })
		c := srv.Client()
		var lost []bool
		for i := range 40 {
			_, err := rawDo(c, http.MethodPost, srv.URL+"/apps/v2/tags/add", map[string]string{"name": fmt.Sprint("t", i)})
			lost = append(lost, err != nil)
		}
		g.Expect(srv.Tags()).To(HaveLen(40), "every request took effect")
		return lost
	}
	first := run()
	g.Expect(run()).To(Equal(first), "the same seed loses the same answers")
	n := 0
	for _, l := range first {
		if l {
			n++
		}
	}
	g.Expect(n).To(BeNumerically("~", 20, 12))
}

func TestVPCWireFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults vpsiesim.Faults
		check  func(g Gomega, v map[string]any)
	}{
		{"off", vpsiesim.Faults{}, func(g Gomega, v map[string]any) {
			g.Expect(v).To(HaveKeyWithValue("network_size", "24"), "a string, as the real API sends it")
			g.Expect(v).To(HaveKeyWithValue("network_range", "10.20.0.0"))
			g.Expect(v).To(HaveKeyWithValue("id", 401.0))
			g.Expect(v).To(HaveKeyWithValue("datacenter_id", 1.0))
		}},
		{"omit network_size", vpsiesim.Faults{VPCOmitNetworkSize: true}, func(g Gomega, v map[string]any) {
			g.Expect(v).NotTo(HaveKey("network_size"))
			g.Expect(v).To(HaveKeyWithValue("network_range", "10.20.0.5/24"), "as the create gave it")
			g.Expect(v).To(HaveKeyWithValue("id", 401.0))
		}},
		{"numbers as strings", vpsiesim.Faults{VPCNumbersAsStrings: true}, func(g Gomega, v map[string]any) {
			g.Expect(v).To(HaveKeyWithValue("id", "401"))
			g.Expect(v).To(HaveKeyWithValue("datacenter_id", "1"))
			g.Expect(v).To(HaveKeyWithValue("network_size", "24"))
			g.Expect(v).To(HaveKeyWithValue("is_default", "0"))
		}},
		{"both", vpsiesim.Faults{VPCOmitNetworkSize: true, VPCNumbersAsStrings: true}, func(g Gomega, v map[string]any) {
			g.Expect(v).NotTo(HaveKey("network_size"))
			g.Expect(v).To(HaveKeyWithValue("id", "401"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = tc.faults })
			a := newAPI(t, srv.URL)
			g.Expect(a.post("/apps/v2/vpc/add", map[string]any{"name": "v", "dcIdentifier": vpsiesim.DefaultDatacenter,
				"networkRange": "10.20.0.5/24"}).ok()).To(BeTrue())
			list := a.get("/apps/v2/vpc").list()
			g.Expect(list).To(HaveLen(1))
			tc.check(g, list[0])
			tc.check(g, a.get("/apps/v2/vpc/401").object())
			g.Expect(srv.VPCs()[0].NetworkSize).To(Equal(24), "the truth is unchanged")
		})
	}
}

func TestHostileModesThroughTheAdminEndpoint(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL).anonymous()
	body := `{"listGap":"1s","listLag":"250ms","pageCap":3,"asyncVPCAttach":"2s","alreadyAttachedError":true,
		"pendingLag":"3s","rateLimitNoRetryAfter":true,"missingRoutes":["GET /api/v2/lbs/pending"],
		"lostAnswerRate":0.5,"lostAnswerNext":2,"bootListedUnpowered":"4s","vpcOmitNetworkSize":true,"vpcNumbersAsStrings":true}`
	r := a.post("/_sim/faults", body)
	g.Expect(r.Status).To(Equal(200), r.String())
	want := vpsiesim.Faults{ListGap: time.Second, ListLag: 250 * time.Millisecond, PageCap: 3, AsyncVPCAttach: 2 * time.Second,
		AlreadyAttachedError: true, PendingLag: 3 * time.Second, RateLimitNoRetryAfter: true,
		MissingRoutes: []string{"GET /api/v2/lbs/pending"}, LostAnswerRate: 0.5, LostAnswerNext: 2,
		BootListedUnpowered: 4 * time.Second, VPCOmitNetworkSize: true, VPCNumbersAsStrings: true}
	g.Expect(srv.Faults()).To(Equal(want))
	g.Expect(r.Body).To(MatchJSON(body), "durations come back as strings")

	var st vpsiesim.State
	g.Expect(json.Unmarshal(a.get("/_sim/state").Body, &st)).To(Succeed())
	g.Expect(st.Faults).To(Equal(want))

	for _, bad := range []string{`{"listLag":"-1s"}`, `{"pageCap":-1}`, `{"lostAnswerRate":1.5}`, `{"lostAnswerNext":-1}`, `{"bootListedUnpowered":"soon"}`} {
		g.Expect(a.post("/_sim/faults", bad).Status).To(Equal(400), bad)
	}
	g.Expect(func() { srv.SetFaults(vpsiesim.Faults{PendingLag: -time.Second}) }).To(Panic())
	g.Expect(vpsiesim.Options{Faults: vpsiesim.Faults{LostAnswerRate: -0.1}}.Validate()).NotTo(Succeed())

	// The zero value is every mode off, and encodes as {}.
	b, err := json.Marshal(vpsiesim.Faults{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(Equal("{}"))
}
