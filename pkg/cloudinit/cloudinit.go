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

// Package cloudinit builds the user data a VPSie server boots with: the bootstrap provider's data, untouched,
// plus the server's hostname, the user's extra cloud-init and the machine's SSH keys, each as its own part of a MIME multipart
// message, the format cloud-init reads from VPSie's NoCloud source.
package cloudinit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// appendMerge makes cloud-init add an extra part's lists and keys to what earlier parts configured instead of
// replacing them: without it a user's runcmd would silently replace kubeadm's and the node would never join.
const appendMerge = "list(append)+dict(no_replace,recurse_list)+str()"

// Part is one piece of user data.
type Part struct {
	// Name is the part's file name, for logs on the server.
	Name string
	// Content is the cloud-init document or script.
	Content []byte
}

// ErrUnknownFormat is returned for content cloud-init would not recognise.
var ErrUnknownFormat = errors.New("not a cloud-init document: the first line must be #cloud-config, #!, " +
	"#cloud-boothook, #include or ## template: jinja")

// contentType maps a part's first line to the MIME type cloud-init dispatches on.
func contentType(content []byte) (string, error) {
	switch {
	case bytes.HasPrefix(content, []byte("#cloud-config")):
		return "text/cloud-config", nil
	case bytes.HasPrefix(content, []byte("#!")):
		return "text/x-shellscript", nil
	case bytes.HasPrefix(content, []byte("#cloud-boothook")):
		return "text/cloud-boothook", nil
	case bytes.HasPrefix(content, []byte("#include")):
		return "text/x-include-url", nil
	case bytes.HasPrefix(content, []byte("## template: jinja")):
		return "text/jinja2", nil
	default:
		return "", ErrUnknownFormat
	}
}

// Validate tells whether cloud-init would recognise content as user data.
func Validate(content []byte) error {
	_, err := contentType(content)
	return err
}

// ErrInvalidKey is returned for a public key no sshd would read: it holds a control character.
var ErrInvalidKey = errors.New("invalid SSH public key")

// SSHKeysPart is a #cloud-config part adding the given public keys to the default user. A key holding a
// control character other than tab is refused (ErrInvalidKey, naming the key): it is no key OpenSSH writes,
// and cloud-init's YAML reader refuses the whole document over it, so the node would boot without any key.
func SSHKeysPart(publicKeys []string) (Part, error) {
	keys := make([]string, 0, len(publicKeys))
	for i, k := range publicKeys {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if j := strings.IndexFunc(k, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }); j >= 0 {
			r, _ := utf8.DecodeRuneInString(k[j:])
			return Part{}, fmt.Errorf("%w: key %d (%q) holds the control character %U at byte %d; "+
				"replace it in the VPSie account", ErrInvalidKey, i+1, firstLine(k, 24), r, j)
		}
		keys = append(keys, k)
	}
	doc, err := yaml.Marshal(map[string][]string{"ssh_authorized_keys": keys})
	if err != nil {
		return Part{}, err
	}
	return Part{Name: "ssh-keys.cfg", Content: append([]byte("#cloud-config\n"), doc...)}, nil
}

// HostnamePart is a #cloud-config part setting the server's hostname, so that the Node (kubeadm names it after
// the hostname) is named as the provider expects, whatever VPSie's metadata says. hostname must be a DNS label.
func HostnamePart(hostname string) (Part, error) {
	if errs := validation.IsDNS1123Label(hostname); len(errs) > 0 {
		return Part{}, fmt.Errorf("hostname %q: %s", hostname, strings.Join(errs, "; "))
	}
	doc, err := yaml.Marshal(map[string]any{"hostname": hostname, "preserve_hostname": false})
	if err != nil {
		return Part{}, err
	}
	return Part{Name: "hostname.cfg", Content: append([]byte("#cloud-config\n"), doc...)}, nil
}

// Build returns the user data for a server: bootstrap unchanged when there is nothing to add, otherwise a
// MIME multipart message with bootstrap first and every extra part after it, set to append to, never
// replace, what bootstrap configures. The output is deterministic for the same input.
func Build(bootstrap []byte, extra ...Part) ([]byte, error) {
	if len(extra) == 0 {
		return bootstrap, nil
	}
	bootstrapType, err := contentType(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("bootstrap data: %w", err)
	}

	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	// A boundary derived from the content keeps the output stable (no needless diffs) and cannot collide
	// with a line of the content, which it is a hash of.
	if err := w.SetBoundary(boundaryFor(bootstrap, extra)); err != nil {
		return nil, err
	}
	fmt.Fprintf(&buf, "Content-Type: multipart/mixed; boundary=%q\r\nMIME-Version: 1.0\r\n\r\n", w.Boundary())

	if err := writePart(w, "bootstrap", bootstrapType, "", bootstrap); err != nil {
		return nil, err
	}
	for _, p := range extra {
		ct, err := contentType(p.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		if err := writePart(w, p.Name, ct, appendMerge, p.Content); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writePart(w *multipart.Writer, name, contentType, mergeType string, content []byte) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", contentType+`; charset="utf-8"`)
	h.Set("MIME-Version", "1.0")
	// base64 keeps any byte sequence, including lines that look like a boundary, intact.
	h.Set("Content-Transfer-Encoding", "base64")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	if mergeType != "" {
		h.Set("Merge-Type", mergeType)
	}
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(content)
	for len(enc) > 76 {
		if _, err := fmt.Fprintf(pw, "%s\r\n", enc[:76]); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err = fmt.Fprintf(pw, "%s\r\n", enc)
	return err
}

func boundaryFor(bootstrap []byte, extra []Part) string {
	h := sha256.New()
	h.Write(bootstrap)
	for _, p := range extra {
		h.Write([]byte(p.Name))
		h.Write(p.Content)
	}
	return "capvpsie-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// firstLine is at most n bytes of s, for messages.
func firstLine(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
