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

package servers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cluster-api/util/conditions"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// extraCloudInit is a #cloud-config document of about n bytes: compressible (repeated settings) or not
// (random text, like keys and certificates).
func extraCloudInit(n int, compressible bool) string {
	var b strings.Builder
	b.WriteString("#cloud-config\nwrite_files:\n")
	rng := rand.New(rand.NewSource(1))
	for b.Len() < n {
		if compressible {
			fmt.Fprintf(&b, "  - path: /etc/example/%d.conf\n    content: setting=value\n", b.Len())
			continue
		}
		raw := make([]byte, 48)
		rng.Read(raw)
		fmt.Fprintf(&b, "  - content: %s\n", base64.StdEncoding.EncodeToString(raw))
	}
	return b.String()
}

// sentUserData is the user data the simulator's only server was created with, decompressed when it came
// gzip-compressed (as cloud-init does), and whether it did.
func sentUserData(t *testing.T, e *env) ([]byte, bool) {
	t.Helper()
	g := NewWithT(t)
	vms := e.sim.VMs()
	g.Expect(vms).To(HaveLen(1))
	data, err := vms[0].DecodedUserData()
	g.Expect(err).NotTo(HaveOccurred())
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	g.Expect(err).NotTo(HaveOccurred())
	plain, err := io.ReadAll(zr)
	g.Expect(err).NotTo(HaveOccurred())
	return plain, true
}

// TestUserDataSize: user data under the limit goes as built; over it but under it compressed, it goes
// gzip-compressed and decompresses to the same message; over it even compressed, no server is created and
// ServerReady says why with the sizes.
func TestUserDataSize(t *testing.T) {
	const limit = 20_000
	cases := []struct {
		name         string
		extra        string
		compressed   bool
		tooLarge     bool
		messageParts []string
	}{
		{name: "under the limit", extra: extraCloudInit(10_000, true)},
		{name: "under the limit once compressed", extra: extraCloudInit(30_000, true), compressed: true},
		{name: "over the limit even compressed", extra: extraCloudInit(30_000, false), tooLarge: true,
			messageParts: []string{"gzip-compressed, over the limit of 20000", "additionalCloudInit 3", "--max-user-data-bytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			e := newEnv(t, vpsiesim.Options{BootDelay: -1})
			s := e.machineScope(t, "worker-1", func(m *infrav1.VPSieMachine) { m.Spec.AdditionalCloudInit = tc.extra })
			s.UserDataLimit = limit
			_, err := e.service(s).Reconcile(context.Background())
			if tc.tooLarge {
				g.Expect(err).To(HaveOccurred())
				out := services.HandleError(s.VPSieMachine, infrav1.ServerReadyCondition, "creating the server", err)
				g.Expect(out.Err).NotTo(HaveOccurred(), "no hot loop: a long requeue")
				g.Expect(out.RequeueAfter).To(Equal(services.TerminalRequeue))
				c := conditions.Get(s.VPSieMachine, infrav1.ServerReadyCondition)
				g.Expect(c.Reason).To(Equal(infrav1.UserDataTooLargeReason))
				for _, part := range tc.messageParts {
					g.Expect(c.Message).To(ContainSubstring(part))
				}
				g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(BeZero(), "nothing is created")
				g.Expect(e.sim.VMs()).To(BeEmpty())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			data, compressed := sentUserData(t, e)
			g.Expect(compressed).To(Equal(tc.compressed))
			g.Expect(len(e.sim.VMs()[0].UserData)).To(BeNumerically("<=", limit), "the base64 text as sent")
			g.Expect(string(data)).To(And(ContainSubstring("Merge-Type"), ContainSubstring("multipart/mixed")))
			// The message is the one Build made: bootstrap and the extra part, each base64 in its part.
			g.Expect(string(data)).To(ContainSubstring(base64.StdEncoding.EncodeToString([]byte(bootstrap))))
		})
	}
}

// TestCorruptSSHKeyInTheAccountIsTerminal: a key of the account holding a control character (no sshd reads
// it, and cloud-init would refuse the whole document) stops the create with a terminal error naming it,
// instead of a transient error retried forever.
func TestCorruptSSHKeyInTheAccountIsTerminal(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	api := e.account.API
	g.Expect(api.CreateSSHKey(context.Background(), "good", "ssh-ed25519 AAAAgood alice")).To(Succeed())
	g.Expect(api.CreateSSHKey(context.Background(), "corrupt", "ssh-ed25519 AAAA\x7fbad bob")).To(Succeed())
	s := e.machineScope(t, "worker-1", func(m *infrav1.VPSieMachine) { m.Spec.SSHKeys = []string{"good", "corrupt"} })
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).To(MatchError(services.ErrTerminal))
	g.Expect(err.Error()).To(And(ContainSubstring("key 2"), ContainSubstring("U+007F")))
	g.Expect(e.sim.RequestCount("POST /api/v2/vm")).To(BeZero())
}

// TestServerSetsItsHostname: the user data sets the server's hostname to the machine's (cloud-init prefers
// user data over VPSie's metadata), so kubeadm names the Node as the provider looks for it; the bootstrap data
// comes first and untouched.
func TestServerSetsItsHostname(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t, vpsiesim.Options{BootDelay: -1})
	s := e.machineScope(t, "worker-1")
	_, err := e.service(s).Reconcile(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	data, _ := sentUserData(t, e)
	parts, err := cloudinit.Read(data)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(len(parts)).To(BeNumerically(">=", 2))
	g.Expect(string(parts[0].Body)).To(Equal(bootstrap))
	hostname := s.Hostname()
	g.Expect(hostname).To(HavePrefix("worker-1-"))
	g.Expect(e.sim.VMs()[0].Hostname).To(Equal(hostname))
	g.Expect(string(parts[1].Body)).To(Equal("#cloud-config\nhostname: " + hostname + "\npreserve_hostname: false\n"))
	g.Expect(parts[1].MergeType).NotTo(BeEmpty(), "merged with the bootstrap's cloud-config, not replacing it")
}
