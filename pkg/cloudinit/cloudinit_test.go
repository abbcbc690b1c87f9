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

package cloudinit

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

const kubeadmBootstrap = "#cloud-config\nruncmd:\n  - kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml\n"

type parsedPart struct {
	contentType, mergeType, filename string
	body                             []byte
}

// parse reads user data the way cloud-init does (Read), as parts.
func parse(t *testing.T, data []byte) []parsedPart {
	t.Helper()
	g := NewWithT(t)
	read, err := Read(data)
	g.Expect(err).NotTo(HaveOccurred())
	parts := make([]parsedPart, 0, len(read))
	for _, p := range read {
		g.Expect(p.TransferEncoding).To(Equal("base64"), "only base64 keeps every byte")
		parts = append(parts, parsedPart{contentType: p.ContentType, mergeType: p.MergeType, filename: p.Filename, body: p.Body})
	}
	return parts
}

func TestBuildWithoutExtrasKeepsBootstrapAsIs(t *testing.T) {
	g := NewWithT(t)
	out, err := Build([]byte(kubeadmBootstrap))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).To(Equal(kubeadmBootstrap))
}

func TestBuildMergesPartsWithoutTouchingBootstrap(t *testing.T) {
	g := NewWithT(t)
	keys, err := SSHKeysPart([]string{"ssh-ed25519 AAAA alice", "  ", "ssh-rsa BBBB bob\n"})
	g.Expect(err).NotTo(HaveOccurred())
	script := Part{Name: "extra.sh", Content: []byte("#!/bin/sh\necho --boundary-lookalike--\n")}

	out, err := Build([]byte(kubeadmBootstrap), Part{Name: "user.cfg", Content: []byte("#cloud-config\npackages: [htop]\n")}, keys, script)
	g.Expect(err).NotTo(HaveOccurred())

	parts := parse(t, out)
	g.Expect(parts).To(HaveLen(4))
	g.Expect(parts[0]).To(Equal(parsedPart{contentType: "text/cloud-config", filename: "bootstrap", body: []byte(kubeadmBootstrap)}),
		"bootstrap data is the first part, byte for byte, and is not told to merge differently")
	g.Expect(parts[1].contentType).To(Equal("text/cloud-config"))
	g.Expect(parts[1].mergeType).To(Equal(appendMerge), "extra parts append, so a user's runcmd cannot replace kubeadm's")
	g.Expect(parts[2].filename).To(Equal("ssh-keys.cfg"))
	var cfg map[string][]string
	g.Expect(yaml.Unmarshal(parts[2].body, &cfg)).To(Succeed())
	g.Expect(cfg["ssh_authorized_keys"]).To(Equal([]string{"ssh-ed25519 AAAA alice", "ssh-rsa BBBB bob"}))
	g.Expect(parts[3].contentType).To(Equal("text/x-shellscript"))
	g.Expect(parts[3].body).To(Equal(script.Content))

	again, err := Build([]byte(kubeadmBootstrap), Part{Name: "user.cfg", Content: []byte("#cloud-config\npackages: [htop]\n")}, keys, script)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(Equal(out), "the same input gives the same bytes")
}

func TestBuildRejectsUnknownFormats(t *testing.T) {
	g := NewWithT(t)
	_, err := Build([]byte(kubeadmBootstrap), Part{Name: "extra", Content: []byte("packages: [htop]")})
	g.Expect(err).To(MatchError(ErrUnknownFormat))
	g.Expect(err.Error()).To(ContainSubstring("extra"))

	_, err = Build([]byte(`{"ignition":{"version":"3.4.0"}}`), Part{Name: "x", Content: []byte("#!/bin/sh\n")})
	g.Expect(err).To(MatchError(ErrUnknownFormat))
	g.Expect(err.Error()).To(ContainSubstring("bootstrap data"))
}

func TestContentTypes(t *testing.T) {
	for first, want := range map[string]string{
		"#cloud-config\n":      "text/cloud-config",
		"#!/bin/bash\n":        "text/x-shellscript",
		"#cloud-boothook\n":    "text/cloud-boothook",
		"#include\nhttps://x":  "text/x-include-url",
		"## template: jinja\n": "text/jinja2",
	} {
		got, err := contentType([]byte(first))
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		NewWithT(t).Expect(got).To(Equal(want), first)
	}
}

func TestHostnamePart(t *testing.T) {
	g := NewWithT(t)
	p, err := HostnamePart("worker-1-0a1b2c3d")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(p.Content)).To(Equal("#cloud-config\nhostname: worker-1-0a1b2c3d\npreserve_hostname: false\n"))
	for _, bad := range []string{"", "Worker-1", "worker_1", "worker-1\nruncmd: [reboot]", strings.Repeat("a", 64)} {
		_, err := HostnamePart(bad)
		g.Expect(err).To(HaveOccurred(), "%q", bad)
	}
}
