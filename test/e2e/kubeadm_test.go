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

package e2e

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
)

// bootstrapTokenPattern matches a kubeadm bootstrap token (id.secret).
var bootstrapTokenPattern = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)

// Scenario: a worker pool whose bootstrap data the kubeadm bootstrap provider renders from the default flavor's
// KubeadmConfigTemplate. Every server receives, within the size the provider enforces, a MIME message: what
// CABPK rendered (a jinja-templated cloud-config with the kubeadm join configuration and its token), then the
// server's hostname and the VPSieMachineTemplate's extra cloud-init, each set to append. The join token is never
// in the provider's log.
func TestKubeadmBootstrapPool(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("kubeadm", ClusterOptions{})
	md, err := h.CreateKubeadmMachineDeployment(s.ctx, c, "kubeadm-md-0", 2)
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(h.WaitBootstrapData(s.ctx, c, 2)).To(Succeed())
	s.waitRunning(c, md, 2)

	tokens := map[string]bool{}
	for _, vm := range h.ClusterVMs(c.Namespace, c.Name) {
		s.g.Expect(len(vm.UserData)).To(BeNumerically("<=", cloudinit.DefaultSizeLimit), "user data of %s as sent", vm.Hostname)
		data, err := vm.DecodedUserData()
		s.g.Expect(err).NotTo(HaveOccurred())
		parts, err := cloudinit.Read(data)
		s.g.Expect(err).NotTo(HaveOccurred(), "user data reads as cloud-init reads it")
		for _, p := range parts {
			s.g.Expect(p.TransferEncoding).To(Equal("base64"))
		}
		s.g.Expect(parts).To(HaveLen(3), "bootstrap data, the server's hostname, then the extra cloud-init")

		bootstrap := parts[0]
		s.g.Expect(bootstrap.ContentType).To(Equal("text/jinja2"), "CABPK renders a jinja-templated cloud-config")
		s.g.Expect(bootstrap.MergeType).To(BeEmpty(), "bootstrap data goes first and unchanged")
		header, doc, _ := strings.Cut(string(bootstrap.Body), "\n")
		s.g.Expect(header).To(Equal("## template: jinja"))
		s.g.Expect(doc).To(HavePrefix("#cloud-config"))
		var cloudConfig map[string]any
		s.g.Expect(yaml.Unmarshal([]byte(doc), &cloudConfig)).To(Succeed(), "the cloud-config part parses:\n%s", doc)
		s.g.Expect(cloudConfig).To(HaveKey("runcmd"))
		s.g.Expect(hasJoinConfiguration(doc)).To(BeTrue(), "the kubeadm join configuration is there:\n%s", doc)
		s.g.Expect(doc).To(ContainSubstring("/usr/local/bin/capvpsie-install-kubernetes.sh"), "the flavor's install script")
		for _, tok := range bootstrapTokenPattern.FindAllString(doc, -1) {
			tokens[tok] = true
		}

		hostname := parts[1]
		s.g.Expect(hostname.ContentType).To(Equal("text/cloud-config"))
		s.g.Expect(string(hostname.Body)).To(Equal("#cloud-config\nhostname: "+vm.Hostname+"\npreserve_hostname: false\n"),
			"kubeadm names the Node after the hostname the provider sets")

		extra := parts[2]
		s.g.Expect(extra.ContentType).To(Equal("text/cloud-config"))
		s.g.Expect(string(extra.Body)).To(Equal(AdditionalCloudInit))
		s.g.Expect(extra.MergeType).To(ContainSubstring("list(append)"), "the extra runcmd appends to kubeadm's")
	}
	s.g.Expect(tokens).NotTo(BeEmpty(), "the join configuration carries a bootstrap token")

	// The scan every scenario ends with (scanLog) knows the harness's secrets; the join tokens are CABPK's.
	log, err := h.Provider.logSince(0)
	s.g.Expect(err).NotTo(HaveOccurred())
	for tok := range tokens {
		s.g.Expect(bytes.Contains(log, []byte(tok))).To(BeFalse(), "the provider logged a join token")
	}
	s.deleteCluster(c)
}
