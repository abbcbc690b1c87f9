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
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
)

// TestSecretsNeverLogged drives logins, re-logins, creates with passwords and user data,
// deletes and failures through a maximally verbose logger, and checks that no secret appears
// in the logs or in the returned errors.
func TestSecretsNeverLogged(t *testing.T) {
	g := NewWithT(t)
	var mu sync.Mutex
	var lines []string
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 10})

	const (
		accountPassword = "acct-P4ssw0rd-value"
		vmPassword      = "vm-P4ssw0rd-value"
		userDataMarker  = "BOOTSTRAP-TOKEN-abcdef.0123456789abcdef"
	)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, sequence(
		answer(415, `{"error":true,"message":"Unsupported Media Type"}`), // JSON refused: form fallback
		ls.issue,
	))
	f.handle("POST /api/v2/vm", ls.protect(sequence(answer(502, "<html>502</html>"), answer(200, `{"error":false,"data":true}`))))
	f.handle("DELETE /api/v2/vm", ls.protect(answer(200, `{"error":true,"message":"Invalid password"}`)))
	f.handle("GET /apps/v2/vpc", ls.protect(answer(200, testdata(t, "vpcs.json"))))
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) {
		c.Now = clock.Now
		c.Logger = logger
	})
	ctx := context.Background()

	_, err := c.ListVPCs(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	ls.revoke("access-1") // forces a 401 and a re-login
	req := validCreate()
	req.VMPassword = vmPassword
	req.UserData = []byte("#cloud-config\n# " + userDataMarker + "\n")
	errs := []error{c.CreateVM(ctx, req)}
	g.Expect(errs[0]).To(HaveOccurred())
	errs = append(errs, c.CreateVM(ctx, req))
	errs = append(errs, c.DeleteVM(ctx, "vm-1", accountPassword, "r", "n"))
	f.reply("POST /api/v2/vm/start", http.StatusUnauthorized, `{"error":true,"message":"Please authenticate"}`)
	errs = append(errs, c.StartVM(ctx, "vm-1"))

	mu.Lock()
	all := strings.Join(lines, "\n")
	mu.Unlock()
	g.Expect(lines).NotTo(BeEmpty())
	g.Expect(all).To(ContainSubstring(`"operation"="CreateVM"`), "debug logs are there")
	g.Expect(all).To(ContainSubstring(`"operation"="Login"`))
	for _, e := range errs {
		if e != nil {
			all += "\n" + e.Error()
		}
	}
	for _, secret := range []string{
		testClientSecret, "access-1", "access-2", "refresh-token-value", accountPassword, vmPassword, userDataMarker,
		"I2Nsb3VkLWNvbmZpZw", // base64 of the user data's beginning
	} {
		g.Expect(all).NotTo(ContainSubstring(secret))
	}
}

func TestStaticTokenNeverLogged(t *testing.T) {
	g := NewWithT(t)
	var sb strings.Builder
	var mu sync.Mutex
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		sb.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 401, `{"error":true,"message":"Please authenticate"}`)
	c, _ := newTestClient(t, f, func(c *Config) { c.Logger = logger })
	_, err := c.ListTags(context.Background())
	g.Expect(IsUnauthorized(err)).To(BeTrue())
	mu.Lock()
	defer mu.Unlock()
	g.Expect(sb.String()).NotTo(BeEmpty())
	g.Expect(sb.String() + err.Error()).NotTo(ContainSubstring(testToken))
}
