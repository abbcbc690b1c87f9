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

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const (
	clientID = "acceptance-client"
	secret   = "acceptance-secret-value"
	token    = "acceptance-static-token"
	password = "acceptance-account-password"
)

// TestBinaryAcceptance builds vpsie-sim, runs it on a free port and drives it with plain HTTP requests the way
// curl would: log in (JSON and form), read the catalogue, create a VM, watch it go from pending to listed under
// both prefixes, fail to delete it without the password, delete it, and read the admin endpoints.
func TestBinaryAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	g := NewWithT(t)
	bin := buildBinary(t)
	addr := freeAddr(t)
	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "--addr", addr, "--client-id", clientID, "--client-secret", secret, "--token", token,
		"--account-password", password, "--boot-delay", "1500ms", "--token-lifetime", "1h",
		"--vm-prefixes", "/api/v2,/apps/v2")
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	g.Expect(cmd.Start()).To(Succeed())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := "http://" + addr
	g.Eventually(func() error {
		res, err := http.Get(base + "/_sim/state")
		if err == nil {
			res.Body.Close()
		}
		return err
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed(), stderr.String())

	c := &client{t: t, base: base}

	// Log in both ways.
	var sdk struct {
		Error bool `json:"error"`
		Token struct {
			Access struct{ Token, Expires string } `json:"access"`
		} `json:"token"`
	}
	st, body := c.do("POST", "/apps/v2/auth/from/api", "application/json", `{"clientId":"`+clientID+`","clientSecret":"`+secret+`"}`, nil)
	g.Expect(st).To(Equal(200), string(body))
	g.Expect(json.Unmarshal(body, &sdk)).To(Succeed())
	g.Expect(sdk.Token.Access.Token).NotTo(BeEmpty())
	_, err := time.Parse(time.RFC3339, sdk.Token.Access.Expires)
	g.Expect(err).NotTo(HaveOccurred())
	issued := sdk.Token.Access.Token

	form := url.Values{"clientId": {clientID}, "clientSecret": {secret}}.Encode()
	st, body = c.do("POST", "/apps/v2/auth/from/api", "application/x-www-form-urlencoded", form, nil)
	g.Expect(st).To(Equal(200), string(body))
	var as map[string]map[string]string
	g.Expect(json.Unmarshal(body, &as)).To(Succeed())
	g.Expect(as["accessToken"]["token"]).NotTo(BeEmpty())
	bearer := map[string]string{"Authorization": "Bearer " + as["accessToken"]["token"]}
	static := map[string]string{"Vpsie-Auth": token}
	sdkAuth := map[string]string{"Vpsie-Auth": issued}

	st, body = c.do("GET", "/api/v2/vm", "", "", nil)
	g.Expect(st).To(Equal(401))
	g.Expect(body).To(MatchJSON(`{"error":true,"message":"Please authenticate"}`))

	// Catalogue: a datacenter, then a plan in it.
	dcs := c.list("GET", "/apps/v2/datacenter?offset=0&limit=10", "", "", static)
	g.Expect(dcs).NotTo(BeEmpty())
	var dc string
	for _, d := range dcs {
		if d["default_selected"] == 1.0 {
			dc = d["identifier"].(string)
		}
	}
	g.Expect(dc).NotTo(BeEmpty())
	plans := c.list("POST", "/apps/v2/resources", "application/x-www-form-urlencoded",
		url.Values{"dcIdentifier": {dc}, "isCustom": {"0"}}.Encode(), bearer)
	var plan string
	for _, p := range plans {
		if p["nickname"] == "std-2vcpu-4gb" {
			plan = p["identifier"].(string)
		}
	}
	g.Expect(plan).NotTo(BeEmpty())

	// Create under /api/v2: data:true, no id.
	create, _ := json.Marshal(map[string]any{
		"resourceIdentifier": plan, "osIdentifier": vpsiesim.DefaultImage, "dcIdentifier": dc,
		"hostname": "acceptance-node-0", "vmPassword": "vm-pw", "addPublicIpV4": "1", "addPrivateIp": "0",
		"addPublicIpV6": "0", "backupEnabled": "0", "weeklyBackupEnabled": "0", "monthlyBackupEnabled": "0",
		"userData": "I2Nsb3VkLWNvbmZpZwo=", "tags": []string{"cluster:acceptance"},
	})
	st, body = c.do("POST", "/api/v2/vm", "application/json", string(create), sdkAuth)
	g.Expect(st).To(Equal(200), string(body))
	g.Expect(body).To(MatchJSON(`{"error":false,"data":true,"total":0}`))

	// Pending first.
	pending := c.list("GET", "/apps/v2/vm/pending", "", "", static)
	g.Expect(pending).To(HaveLen(1))
	g.Expect(pending[0]["data"]).To(HaveKeyWithValue("hostname", "acceptance-node-0"))
	g.Expect(pending[0]["data"]).To(HaveKeyWithValue("resourceIdentifier", plan))
	g.Expect(c.list("GET", "/api/v2/vm", "", "", static)).To(BeEmpty())

	// Then, after the boot delay, listed under both prefixes with a public IP.
	var vm map[string]any
	g.Eventually(func() []map[string]any { return c.list("GET", "/api/v2/vm", "", "", static) },
		10*time.Second, 100*time.Millisecond).Should(HaveLen(1))
	for _, prefix := range []string{"/api/v2", "/apps/v2"} {
		vms := c.list("GET", prefix+"/vm", "", "", bearer)
		g.Expect(vms).To(HaveLen(1))
		vm = vms[0]
		g.Expect(vm).To(HaveKeyWithValue("hostname", "acceptance-node-0"))
		g.Expect(vm["default_ip"]).NotTo(BeEmpty())
		g.Expect(net.ParseIP(vm["default_ip"].(string))).NotTo(BeNil())
		g.Expect(vm).To(HaveKeyWithValue("is_active", 1.0))
		g.Expect(vm).To(HaveKeyWithValue("power", 1.0))
	}
	g.Expect(c.list("GET", "/apps/v2/vm/pending", "", "", static)).To(BeEmpty())
	id := vm["identifier"].(string)

	// Delete: refused without the password, then done with it.
	st, body = c.do("DELETE", "/api/v2/vm", "application/json",
		`{"vmIdentifier":"`+id+`","deleteStatistic":{"reason":"acceptance","note":""}}`, static)
	g.Expect(st).To(Equal(400), string(body))
	g.Expect(string(body)).To(ContainSubstring(`"error":true`))
	st, body = c.do("DELETE", "/api/v2/vm", "application/json",
		`{"vmIdentifier":"`+id+`","password":"wrong","deleteStatistic":{"reason":"acceptance","note":""}}`, static)
	g.Expect(st).To(Equal(403), string(body))
	g.Expect(c.list("GET", "/apps/v2/vm", "", "", static)).To(HaveLen(1))
	st, body = c.do("DELETE", "/api/v2/vm", "application/json",
		`{"vmIdentifier":"`+id+`","password":"`+password+`","deleteStatistic":{"reason":"acceptance","note":""}}`, static)
	g.Expect(st).To(Equal(200), string(body))
	g.Expect(body).To(MatchJSON(`{"error":false,"data":true,"total":0}`))
	g.Expect(c.list("GET", "/api/v2/vm", "", "", static)).To(BeEmpty())
	g.Expect(c.list("GET", "/apps/v2/vm", "", "", static)).To(BeEmpty())

	// Admin endpoints.
	st, body = c.do("GET", "/_sim/state", "", "", nil)
	g.Expect(st).To(Equal(200))
	var state struct {
		Catalog struct {
			Datacenters []map[string]any `json:"datacenters"`
			Plans       []map[string]any `json:"plans"`
			Images      []map[string]any `json:"images"`
		} `json:"catalog"`
		VMs        []map[string]any `json:"vms"`
		DeletedVMs []map[string]any `json:"deletedVms"`
	}
	g.Expect(json.Unmarshal(body, &state)).To(Succeed())
	g.Expect(state.Catalog.Datacenters).NotTo(BeEmpty())
	g.Expect(state.Catalog.Plans).NotTo(BeEmpty())
	g.Expect(state.Catalog.Images).NotTo(BeEmpty())
	g.Expect(state.VMs).To(BeEmpty())
	g.Expect(state.DeletedVMs).To(HaveLen(1))
	g.Expect(state.DeletedVMs[0]).To(HaveKeyWithValue("identifier", id))
	g.Expect(state.DeletedVMs[0]).To(HaveKeyWithValue("deleteReason", "acceptance"))
	g.Expect(string(body)).NotTo(ContainSubstring("vm-pw"))

	st, body = c.do("GET", "/_sim/requests", "", "", nil)
	g.Expect(st).To(Equal(200))
	var reqs vpsiesim.RequestStats
	g.Expect(json.Unmarshal(body, &reqs)).To(Succeed())
	g.Expect(reqs.Requests).To(HaveKeyWithValue("POST /apps/v2/auth/from/api", 2))
	g.Expect(reqs.Requests).To(HaveKeyWithValue("POST /api/v2/vm", 1))
	g.Expect(reqs.Requests).To(HaveKeyWithValue("DELETE /api/v2/vm", 3))
	g.Expect(reqs.Requests).To(HaveKeyWithValue("GET /apps/v2/datacenter", 1))
	g.Expect(reqs.Requests).To(HaveKeyWithValue("POST /apps/v2/resources", 1))
	g.Expect(reqs.Requests["GET /apps/v2/vm/pending"]).To(BeNumerically(">=", 2))
	g.Expect(reqs.Requests["GET /api/v2/vm"]).To(BeNumerically(">=", 3))
	g.Expect(reqs.Requests).NotTo(HaveKey(ContainSubstring("/_sim/")))
	g.Expect(reqs.Total).To(BeNumerically(">=", 14))

	// Graceful shutdown on SIGTERM.
	g.Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	g.Eventually(exited, 10*time.Second).Should(Receive(BeNil()))
	exited <- nil // for the cleanup

	logs := stderr.String()
	g.Expect(logs).To(ContainSubstring("listening on http://" + addr))
	g.Expect(logs).To(ContainSubstring("POST /api/v2/vm -> 200"))
	g.Expect(logs).To(ContainSubstring("DELETE /api/v2/vm -> 403"))
	g.Expect(logs).To(ContainSubstring("GET /api/v2/vm -> 401"))
	g.Expect(logs).To(ContainSubstring("stopped"))
	for _, s := range []string{secret, token, password, issued, as["accessToken"]["token"], "vm-pw", "I2Nsb3VkLWNvbmZpZwo="} {
		g.Expect(logs).NotTo(ContainSubstring(s), "secrets stay out of the log")
	}
}

func TestParseFlags(t *testing.T) {
	g := NewWithT(t)
	c, err := parseFlags([]string{"--boot-delay", "0", "--lb-pending-delay", "0", "--token", "a, b", "--vm-prefixes", "/apps/v2",
		"--never-boot", "x-*,y", "--rate-limit", "100", "--html-error-rate", "0.1", "--latency", "5ms"}, io.Discard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.opts.BootDelay).To(BeNumerically("<", 0), "0 means at once")
	g.Expect(c.opts.LBPendingDelay).To(BeNumerically("<", 0))
	g.Expect(c.opts.Tokens).To(Equal([]string{"a", "b"}))
	g.Expect(c.opts.VMPrefixes).To(Equal([]string{"/apps/v2"}))
	g.Expect(c.opts.Faults.NeverBoot).To(Equal([]string{"x-*", "y"}))
	g.Expect(c.opts.Faults.RateLimit).To(Equal(100))
	g.Expect(c.opts.Faults.RateLimitWindow).To(Equal(time.Minute))
	g.Expect(c.opts.Faults.Latency).To(Equal(5 * time.Millisecond))
	g.Expect(c.addr).To(Equal("127.0.0.1:8080"))
	g.Expect(c.opts.Faults.ListGap).To(BeZero(), "hostile modes are off unless asked for")

	c, err = parseFlags([]string{"--list-gap", "1s", "--list-lag", "2s", "--page-cap", "3", "--pending-lag", "4s",
		"--boot-listed-unpowered", "5s", "--async-vpc-attach", "6s", "--already-attached-error", "--rate-limit-no-retry-after",
		"--missing-routes", "GET /api/v2/lbs/pending, GET /apps/v2/vm/pending", "--lost-answer-rate", "0.25",
		"--vpc-omit-network-size", "--vpc-numbers-as-strings"}, io.Discard)
	g.Expect(err).NotTo(HaveOccurred())
	f := c.opts.Faults
	g.Expect([]time.Duration{f.ListGap, f.ListLag, f.PendingLag, f.BootListedUnpowered, f.AsyncVPCAttach}).
		To(Equal([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second}))
	g.Expect(f.PageCap).To(Equal(3))
	g.Expect(f.AlreadyAttachedError && f.RateLimitNoRetryAfter && f.VPCOmitNetworkSize && f.VPCNumbersAsStrings).To(BeTrue())
	g.Expect(f.MissingRoutes).To(Equal([]string{"GET /api/v2/lbs/pending", "GET /apps/v2/vm/pending"}))
	g.Expect(f.LostAnswerRate).To(Equal(0.25))
	_, err = parseFlags([]string{"--lost-answer-rate", "2"}, io.Discard)
	g.Expect(err).To(HaveOccurred())
	_, err = parseFlags([]string{"--list-lag", "-1s"}, io.Discard)
	g.Expect(err).To(HaveOccurred())

	c, err = parseFlags(nil, io.Discard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.opts.BootDelay).To(Equal(5 * time.Second))
	g.Expect(c.opts.VMPrefixes).To(Equal([]string{"/api/v2", "/apps/v2"}))

	_, err = parseFlags([]string{"--vm-prefixes", "api/v2"}, io.Discard)
	g.Expect(err).To(HaveOccurred())
	_, err = parseFlags([]string{"--html-error-rate", "3"}, io.Discard)
	g.Expect(err).To(HaveOccurred())
	_, err = parseFlags([]string{"--catalog", "/does/not/exist.json"}, io.Discard)
	g.Expect(err).To(HaveOccurred())
}

func TestPrintCatalogRoundTrips(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	g.Expect(run([]string{"--print-catalog", "--quiet"}, &out, io.Discard)).To(Succeed())
	path := filepath.Join(t.TempDir(), "catalog.json")
	g.Expect(os.WriteFile(path, out.Bytes(), 0o600)).To(Succeed())
	c, err := parseFlags([]string{"--catalog", path}, io.Discard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.opts.Catalog.Datacenters).To(HaveLen(len(vpsiesim.DefaultCatalog().Datacenters)))
}

func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the simulator: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "vpsie-sim")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path, ctype, body string, headers map[string]string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res.StatusCode, b
}

// list performs a request that must answer a success envelope holding a list.
func (c *client) list(method, path, ctype, body string, headers map[string]string) []map[string]any {
	c.t.Helper()
	st, b := c.do(method, path, ctype, body, headers)
	var env struct {
		Error bool             `json:"error"`
		Data  []map[string]any `json:"data"`
		Total int              `json:"total"`
	}
	if st != 200 || json.Unmarshal(b, &env) != nil || env.Error {
		c.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return env.Data
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
