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

package scope

import (
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func TestMachineHostname(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("worker-pool-", 10) + "x7k2p"
	cases := []struct{ namespace, name string }{
		{"default", "demo-md-0-abcde-fghij"},
		{"team-a", "demo-md-0-abcde-fghij"},
		{"default", long},
		{"default", long + "y"},
		{"default", "Upper.Case_Name"},
		{"default", "---"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		h := MachineHostname("mgmt-a", c.namespace, c.name)
		g.Expect(h).To(MatchRegexp(dnsLabel.String()), "%s/%s -> %q is a DNS label", c.namespace, c.name, h)
		g.Expect(len(h)).To(BeNumerically("<=", 63))
		g.Expect(seen).NotTo(HaveKey(h), "hostnames are unique: %s/%s", c.namespace, c.name)
		seen[h] = true
		g.Expect(MachineHostname("mgmt-a", c.namespace, c.name)).To(Equal(h), "and deterministic")
		g.Expect(MachineHostname("mgmt-b", c.namespace, c.name)).NotTo(Equal(h),
			"the same VPSieMachine of another management cluster on the account gets another hostname")
	}
	g.Expect(MachineHostname("mgmt-a", "default", "demo-md-0-abcde-fghij")).To(HavePrefix("demo-md-0-abcde-fghij-"),
		"readable: the machine name comes first")
}

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestCredentialsFromSecret(t *testing.T) {
	cases := []struct {
		name    string
		data    map[string]string
		wantErr string
	}{
		{"api key", map[string]string{"apiKey": "t", "accountPassword": "p"}, ""},
		{"client id and secret", map[string]string{"clientId": "i", "clientSecret": "s", "accountPassword": "p"}, ""},
		{"nothing", map[string]string{}, "set apiKey, or clientId and clientSecret; set accountPassword"},
		{"half a client", map[string]string{"clientId": "i", "accountPassword": "p"}, "clientId and clientSecret must be given together"},
		{"no password", map[string]string{"apiKey": "t"}, "set accountPassword: VPSie requires the account password to delete servers"},
		{"blank key", map[string]string{"apiKey": "  \n", "accountPassword": "p"}, "set apiKey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			creds, err := CredentialsFromSecret(secret(c.data))
			if c.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(creds.AccountPassword).To(Equal("p"))
				return
			}
			g.Expect(err).To(MatchError(ErrCredentialsInvalid))
			g.Expect(err.Error()).To(ContainSubstring(c.wantErr))
			g.Expect(err.Error()).To(ContainSubstring("Secret ns/creds"))
		})
	}
}

func TestClientCacheReusesClientsUntilCredentialsRotate(t *testing.T) {
	g := NewWithT(t)
	cache := &ClientCache{Config: vpsie.Config{BaseURL: "http://127.0.0.1:1"}}
	key := types.NamespacedName{Namespace: "ns", Name: "creds"}

	a1, err := cache.Account(key, Credentials{APIKey: "one", AccountPassword: "p"})
	g.Expect(err).NotTo(HaveOccurred())
	a2, err := cache.Account(key, Credentials{APIKey: "one", AccountPassword: "p"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a2).To(BeIdenticalTo(a1), "same credentials: same client, so tokens are reused")

	rotated, err := cache.Account(key, Credentials{APIKey: "two", AccountPassword: "p"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rotated).NotTo(BeIdenticalTo(a1), "rotated key: new client")
	g.Expect(rotated.Key).NotTo(Equal(a1.Key))

	newPassword, err := cache.Account(key, Credentials{APIKey: "two", AccountPassword: "q"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(newPassword).NotTo(BeIdenticalTo(rotated))
	g.Expect(newPassword.Password).To(Equal("q"))
	g.Expect(newPassword.Key).To(Equal(rotated.Key), "same account: shared caches keep working")
	g.Expect(newPassword.Key).NotTo(ContainSubstring("two"), "the key never holds a credential")

	cache.Forget(key)
	again, err := cache.Account(key, Credentials{APIKey: "two", AccountPassword: "q"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).NotTo(BeIdenticalTo(newPassword))
}
