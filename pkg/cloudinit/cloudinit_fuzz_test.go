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
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// The user data built here is what a server boots with: a part lost, reordered or altered means a node that
// never joins, or joins without the user's keys. The fuzz targets check, for any bootstrap data, parts and
// keys, that Build either keeps every part byte for byte and in order, or says which part it refused.

// cloudInitHeaders are the first lines cloud-init dispatches on, written out again here (not taken from
// contentType) so that the fuzz targets check Validate against an independent list.
var cloudInitHeaders = map[string]string{
	"#cloud-config":      "text/cloud-config",
	"#!":                 "text/x-shellscript",
	"#cloud-boothook":    "text/cloud-boothook",
	"#include":           "text/x-include-url",
	"## template: jinja": "text/jinja2",
}

// expectedType is the MIME type cloud-init should be told for content, "" when content is no cloud-init
// document.
func expectedType(content []byte) string {
	for prefix, ct := range cloudInitHeaders {
		if bytes.HasPrefix(content, []byte(prefix)) {
			return ct
		}
	}
	return ""
}

// seedContents are part contents of every kind: what kubeadm and users write, and what they get wrong.
var seedContents = []string{
	kubeadmBootstrap,
	"#cloud-config\npackages: [htop]\n",
	"#!/bin/sh\necho --boundary-lookalike--\n",
	"#cloud-boothook\n#!/bin/sh\necho early\n",
	"#include\nhttps://example.com/extra.cfg\n",
	"## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n",
	"#cloud-config\r\nwrite_files:\r\n- path: /x\r\n  content: \"--capvpsie-0000\\r\\n\"\r\n",
	"#cloud-config\n--capvpsie-0000000000000000000000000000000000000000--\n",
	"#!\x00\xff\xfe binary after the header",
	"packages: [htop]",
	`{"ignition":{"version":"3.4.0"}}`,
	" #cloud-config\n",
	"\ufeff#cloud-config\n",
	"#CLOUD-CONFIG\n",
	"#cloud-confi",
	"",
	"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\r\n#cloud-config\r\n--x--\r\n",
	strings.Repeat("#!/bin/sh\n", 200),
}

// FuzzBuild builds user data from fuzzed bootstrap data, two fuzzed parts and an SSH key part, in a fuzzed
// selection and order, and reads the result back the way cloud-init does.
func FuzzBuild(f *testing.F) {
	for i, bootstrap := range seedContents {
		for j, content := range seedContents {
			if (i+j)%3 != 0 && i != 0 && j != 0 {
				continue // enough pairs to cover every content as bootstrap and as part, without thousands of seeds
			}
			f.Add([]byte(bootstrap), "additional-cloud-init", []byte(content), "extra.sh", []byte(seedContents[(i+j)%len(seedContents)]),
				"ssh-ed25519 AAAA alice\n  \nssh-rsa BBBB bob\n", uint8(i+j))
		}
	}
	f.Add([]byte(kubeadmBootstrap), "", []byte("nope"), "second", []byte("#!/bin/sh\n"), "", uint8(3))
	f.Add([]byte(kubeadmBootstrap), "na\"me\r\n\\x", []byte("#cloud-config\n"), "\xff", []byte("#!"), "\xff\xfe", uint8(15))
	f.Add([]byte(kubeadmBootstrap), "user.cfg", []byte("#cloud-config\n"), "user.cfg", []byte("#cloud-config\n"), "k", uint8(11))
	f.Add([]byte(nil), "a", []byte(nil), "b", []byte(nil), "", uint8(0))
	f.Fuzz(func(t *testing.T, bootstrap []byte, name1 string, content1 []byte, name2 string, content2 []byte,
		keys string, pick uint8) {
		g := NewWithT(t)
		var extra []Part
		if pick&1 != 0 {
			extra = append(extra, Part{Name: name1, Content: content1})
		}
		if pick&2 != 0 {
			extra = append(extra, Part{Name: name2, Content: content2})
		}
		if pick&4 != 0 {
			keysPart, err := SSHKeysPart(strings.Split(keys, "\n"))
			if err != nil {
				// Keys with control characters are refused (FuzzSSHKeysPart checks when); Build gets no part.
				g.Expect(err).To(MatchError(ErrInvalidKey))
				return
			}
			extra = append(extra, keysPart)
		}
		if pick&8 != 0 {
			for i, j := 0, len(extra)-1; i < j; i, j = i+1, j-1 {
				extra[i], extra[j] = extra[j], extra[i]
			}
		}

		out, err := Build(bootstrap, extra...)
		if len(extra) == 0 {
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(decompressed(t, out)).To(Equal(bootstrap), "without extra parts bootstrap data goes as it is")
			return
		}
		if expectedType(bootstrap) == "" {
			g.Expect(err).To(MatchError(ErrUnknownFormat))
			g.Expect(err.Error()).To(ContainSubstring("bootstrap"))
			return
		}
		for _, p := range extra {
			if expectedType(p.Content) == "" {
				g.Expect(err).To(MatchError(ErrUnknownFormat), "part %q is no cloud-init document", p.Name)
				g.Expect(err.Error()).To(ContainSubstring(p.Name), "the error names the first bad part")
				return
			}
		}
		g.Expect(err).NotTo(HaveOccurred())

		parts := readUserData(t, out)
		g.Expect(parts).To(HaveLen(1+len(extra)), "one MIME part per input, in order")
		g.Expect(parts[0].body).To(Equal(bootstrap), "bootstrap data byte for byte")
		g.Expect(parts[0].contentType).To(Equal(expectedType(bootstrap)))
		g.Expect(parts[0].filename).To(Equal("bootstrap"))
		g.Expect(parts[0].mergeType).To(BeEmpty(), "bootstrap data merges the default way")
		for i, p := range extra {
			got := parts[i+1]
			g.Expect(got.body).To(Equal(p.Content), "part %d (%q) byte for byte", i+1, p.Name)
			g.Expect(got.contentType).To(Equal(expectedType(p.Content)), "part %d (%q)", i+1, p.Name)
			g.Expect(got.mergeType).To(Equal(appendMerge), "part %d (%q) appends to what bootstrap configures", i+1, p.Name)
			if plainName.MatchString(p.Name) {
				g.Expect(got.filename).To(Equal(p.Name))
			}
		}

		again, err := Build(bootstrap, extra...)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(again).To(Equal(out), "the same input gives the same bytes")
	})
}

// plainName matches part names that a MIME reader gives back unchanged (FileName keeps only the base name,
// and quoting rules differ between Go's %q and MIME for the rest).
var plainName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// decompressed undoes gzip, so that the properties still hold if Build ever compresses what it returns
// (cloud-init decompresses gzip user data before it reads anything else).
func decompressed(t *testing.T, data []byte) []byte {
	t.Helper()
	plain, err := gunzip(data)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// readUserData reads a multipart user data message like cloud-init (Read): MIME parts with base64 bodies.
func readUserData(t *testing.T, data []byte) []parsedPart {
	t.Helper()
	read, err := Read(data)
	if err != nil {
		t.Fatalf("user data does not read: %v", err)
	}
	parts := make([]parsedPart, 0, len(read))
	for i, p := range read {
		if p.TransferEncoding != "base64" {
			t.Fatalf("part %d has transfer encoding %q: only base64 keeps every byte", i, p.TransferEncoding)
		}
		parts = append(parts, parsedPart{contentType: p.ContentType, mergeType: p.MergeType, filename: p.Filename, body: p.Body})
	}
	return parts
}

// FuzzSSHKeysPart checks that the keys of any list (one per line of the fuzzed text) end up in the part,
// trimmed, in order, without the blank ones, and that the part is a cloud-config document Build accepts.
func FuzzSSHKeysPart(f *testing.F) {
	for _, s := range []string{
		"ssh-ed25519 AAAA alice\n  \nssh-rsa BBBB bob\n",
		"",
		"\n\n\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI demo",
		"key: with a colon\n- dash\n# hash\n'quote\n\"dq\n{brace}\n[bracket]\n&anchor\n*alias\n!tag\n%percent\n@at\n`tick",
		"yes\nno\non\noff\n~\nnull\n1e3\n0x1F\n010\n.inf",
		"\u2028line separator\u2029\n\u00a0nbsp\u00a0\n\u0085nel",
		"\xff\xfe invalid utf-8\n\t tab\t",
		"---\n...\n|\n>",
		strings.Repeat("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== user@host\n", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g := NewWithT(t)
		part, err := SSHKeysPart(strings.Split(text, "\n"))
		// A key holding a control character other than tab is refused, naming it (none is ever valid).
		refused := func(r rune) bool { return r != '\t' && unicode.IsControl(r) }
		for _, k := range strings.Split(text, "\n") {
			if strings.ContainsFunc(strings.TrimSpace(k), refused) {
				g.Expect(err).To(MatchError(ErrInvalidKey))
				g.Expect(err.Error()).To(ContainSubstring("holds the control character"))
				return
			}
		}
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(Validate(part.Content)).To(Succeed())
		g.Expect(string(part.Content)).To(HavePrefix("#cloud-config\n"))

		var want []string
		for _, k := range strings.Split(text, "\n") {
			if k = strings.TrimSpace(k); k != "" {
				want = append(want, jsonString(k))
			}
		}
		var doc map[string][]string
		g.Expect(yaml.Unmarshal(part.Content, &doc)).To(Succeed(), "part:\n%s", part.Content)
		g.Expect(doc).To(HaveKey("ssh_authorized_keys"))
		if len(want) == 0 {
			g.Expect(doc["ssh_authorized_keys"]).To(BeEmpty())
		} else {
			g.Expect(doc["ssh_authorized_keys"]).To(Equal(want), "part:\n%s", part.Content)
		}

		_, err = Build([]byte(kubeadmBootstrap), part)
		g.Expect(err).NotTo(HaveOccurred())
	})
}

// jsonString is s as a JSON (and so a YAML) string can hold it: invalid UTF-8 becomes U+FFFD.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzValidate checks Validate against the list of first lines cloud-init dispatches on, and that what it
// accepts Build accepts, as bootstrap data and as an extra part.
func FuzzValidate(f *testing.F) {
	for _, s := range seedContents {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		g := NewWithT(t)
		err := Validate(content)
		if expectedType(content) == "" {
			g.Expect(err).To(MatchError(ErrUnknownFormat))
			g.Expect(err.Error()).NotTo(BeEmpty())
			return
		}
		g.Expect(err).NotTo(HaveOccurred())
		_, err = Build(content, Part{Name: "extra", Content: []byte("#cloud-config\n")})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = Build([]byte(kubeadmBootstrap), Part{Name: "extra", Content: content})
		g.Expect(err).NotTo(HaveOccurred())
	})
}
