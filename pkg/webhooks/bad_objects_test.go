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

package webhooks_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// The four kinds, as the rows name them.
const (
	kindCluster         = "VPSieCluster"
	kindClusterTemplate = "VPSieClusterTemplate"
	kindMachine         = "VPSieMachine"
	kindMachineTemplate = "VPSieMachineTemplate"
)

// badObject is one thing a user (or a script, or an attacker with create rights) can get wrong.
type badObject struct {
	name string
	kind string
	// mutate spoils a valid object of kind.
	mutate func(client.Object)
	// want are substrings the API server's answer must hold: the field path and what to do about it.
	want []string
	// createOnly rows spoil what an update cannot change (the name).
	createOnly bool
}

// clusterSpecRows turns a mistake in a VPSieClusterSpec into a row for VPSieCluster and one for
// VPSieClusterTemplate, whose spec.template.spec must be refused the same way (a ClusterClass stamps clusters
// from it). field is the path below the spec ("" for the spec itself).
func clusterSpecRows(name, field string, mutate func(*infrav1.VPSieClusterSpec), hints ...string) []badObject {
	return []badObject{
		{name: name, kind: kindCluster, want: append([]string{specPath("spec", field)}, hints...),
			mutate: func(o client.Object) { mutate(&o.(*infrav1.VPSieCluster).Spec) }},
		{name: name, kind: kindClusterTemplate, want: append([]string{specPath("spec.template.spec", field)}, hints...),
			mutate: func(o client.Object) { mutate(&o.(*infrav1.VPSieClusterTemplate).Spec.Template.Spec) }},
	}
}

// machineSpecRows is clusterSpecRows for VPSieMachine and VPSieMachineTemplate.
func machineSpecRows(name, field string, mutate func(*infrav1.VPSieMachineSpec), hints ...string) []badObject {
	return []badObject{
		{name: name, kind: kindMachine, want: append([]string{specPath("spec", field)}, hints...),
			mutate: func(o client.Object) { mutate(&o.(*infrav1.VPSieMachine).Spec) }},
		{name: name, kind: kindMachineTemplate, want: append([]string{specPath("spec.template.spec", field)}, hints...),
			mutate: func(o client.Object) { mutate(&o.(*infrav1.VPSieMachineTemplate).Spec.Template.Spec) }},
	}
}

func specPath(prefix, field string) string {
	if field == "" {
		return prefix + ":"
	}
	return prefix + "." + field + ":"
}

// Hints shared by many rows: the exact words the CRD's rules and the webhooks say.
const (
	identifierHint = "letters, digits, '.', '_', ':' and '-' only, no spaces or control characters"
	tooLong64      = "Too long: may not be more than 64 bytes"
	tooManyItems32 = "must have at most 32 items"
	controlHint    = "must not contain control characters"
	requiredHint   = "Required value"
)

// A cut public key, and a whole one (longer than an identifier may be): both must be told they are keys.
const shortPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG4 ops@laptop"

const realPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG4rT3vTt99Ox5kndS4HmgTrKBT8SKzhK4rhGkEVGlCI ops@laptop"

// hugeString is the length of the huge values: 4,000 times an identifier's limit, yet small enough that the
// webhooks decode and patch it well inside the API server's 10 s webhook timeout on a loaded 2-core machine
// (1 MiB took over 10 s there).
const hugeString = 256 << 10

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("key-%02d", i)
	}
	return out
}

func failureDomains(n int) []infrav1.FailureDomainSpec {
	out := make([]infrav1.FailureDomainSpec, n)
	for i := range out {
		out[i] = infrav1.FailureDomainSpec{Datacenter: fmt.Sprintf("dc-%02d", i)}
	}
	return out
}

func badObjects() []badObject {
	var rows []badObject
	add := func(r ...badObject) { rows = append(rows, r...) }
	dc := "55f06b85-c9ee-11ed-a4cc-0050569c68dc"

	// Credentials and identifiers of the cluster.
	add(clusterSpecRows("no credentials Secret", "credentialsRef", func(s *infrav1.VPSieClusterSpec) {
		s.CredentialsRef = infrav1.SecretReference{}
	}, requiredHint)...)
	add(clusterSpecRows("credentials Secret name that no Secret can have", "credentialsRef.name", func(s *infrav1.VPSieClusterSpec) {
		s.CredentialsRef.Name = "My VPSie Secret"
	}, "must be the name of a Secret in the same namespace: lower-case letters, digits, '-' and '.'")...)
	add(clusterSpecRows("no datacenter", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = ""
	}, requiredHint)...)
	add(clusterSpecRows("datacenter with a space", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = "55f06b85 c9ee-11ed-a4cc-0050569c68dc"
	}, "datacenter must be the identifier (a UUID) of a VPSie datacenter", identifierHint)...)
	add(clusterSpecRows("datacenter pasted with its newline", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = dc + "\n"
	}, identifierHint)...)
	add(clusterSpecRows("datacenter with a NUL byte", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = "55f06b85\x00c9ee"
	}, identifierHint)...)
	add(clusterSpecRows("datacenter with a terminal escape sequence", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = "\x1b[2J\x1b[31m" + dc
	}, identifierHint)...)
	add(clusterSpecRows("datacenter with a right-to-left override", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = "55f06b85\u202ec9ee"
	}, identifierHint)...)
	add(clusterSpecRows("datacenter longer than an identifier", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = dc + "-" + dc
	}, tooLong64)...)
	add(clusterSpecRows("datacenter of 256 KiB", "datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.Datacenter = strings.Repeat("a", hugeString)
	}, tooLong64)...)
	add(clusterSpecRows("projectId with spaces", "projectId", func(s *infrav1.VPSieClusterSpec) {
		s.ProjectID = "my project"
	}, "projectId must be the identifier of a VPSie project", identifierHint)...)

	// Failure domains.
	add(clusterSpecRows("failure domain datacenter with a tab", "failureDomains[0].datacenter", func(s *infrav1.VPSieClusterSpec) {
		s.FailureDomains = []infrav1.FailureDomainSpec{{Datacenter: "dc\t2"}}
	}, identifierHint)...)
	add(clusterSpecRows("failure domain listed twice", "failureDomains[1]", func(s *infrav1.VPSieClusterSpec) {
		s.FailureDomains = []infrav1.FailureDomainSpec{{Datacenter: "dc-2"}, {Datacenter: "dc-2"}}
	}, "Duplicate value")...)
	add(clusterSpecRows("17 failure domains", "failureDomains", func(s *infrav1.VPSieClusterSpec) {
		s.FailureDomains = failureDomains(17)
	}, "must have at most 16 items")...)

	// The control-plane load balancer.
	add(clusterSpecRows("load balancer port above 65535", "controlPlaneLoadBalancer.port", func(s *infrav1.VPSieClusterSpec) {
		s.ControlPlaneLoadBalancer.Port = 70000
	}, "should be less than or equal to 65535")...)
	add(clusterSpecRows("negative load balancer port", "controlPlaneLoadBalancer.port", func(s *infrav1.VPSieClusterSpec) {
		s.ControlPlaneLoadBalancer.Port = -6443
	}, "should be greater than or equal to 1")...)
	add(clusterSpecRows("load balancer plan with a space", "controlPlaneLoadBalancer.plan", func(s *infrav1.VPSieClusterSpec) {
		s.ControlPlaneLoadBalancer.Plan = "lb small"
	}, "plan must be the identifier of a VPSie load balancer plan", identifierHint)...)
	add(clusterSpecRows("unknown load balancer algorithm", "controlPlaneLoadBalancer.algorithm", func(s *infrav1.VPSieClusterSpec) {
		s.ControlPlaneLoadBalancer.Algorithm = "random"
	}, `Unsupported value: "random"`, `supported values: "roundrobin", "leastconn", "source"`)...)

	// The control-plane endpoint a user gives when there is no load balancer.
	noLB := func(host string) func(*infrav1.VPSieClusterSpec) {
		return func(s *infrav1.VPSieClusterSpec) {
			s.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
			s.ControlPlaneEndpoint.Host, s.ControlPlaneEndpoint.Port = host, 6443
		}
	}
	add(clusterSpecRows("load balancer disabled without an endpoint", "", func(s *infrav1.VPSieClusterSpec) {
		s.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
	}, "controlPlaneEndpoint.host is required when controlPlaneLoadBalancer.enabled is false")...)
	add(clusterSpecRows("endpoint host given as a URL", "controlPlaneEndpoint.host", noLB("https://api.mycluster.example.com"),
		"not a URL: drop the scheme (https://)")...)
	add(clusterSpecRows("endpoint host with its port", "controlPlaneEndpoint.host", noLB("203.0.113.10:6443"),
		"host must be an IP address or a DNS name", "give the port in controlPlaneEndpoint.port")...)
	add(clusterSpecRows("endpoint host with a space", "controlPlaneEndpoint.host", noLB("api mycluster.example.com"),
		"host must be an IP address or a DNS name such as api.mycluster.example.com")...)
	add(clusterSpecRows("endpoint host with an underscore", "controlPlaneEndpoint.host", noLB("api_server.example.com"),
		"host must be an IP address or a DNS name")...)
	add(clusterSpecRows("endpoint host with a 64-character label", "controlPlaneEndpoint.host", noLB(strings.Repeat("a", 64)+".example.com"),
		"labels of at most 63 letters, digits and '-'")...)
	add(clusterSpecRows("endpoint host with a carriage return", "controlPlaneEndpoint.host", noLB("api.example.com\r"),
		"host must be an IP address or a DNS name")...)
	add(clusterSpecRows("endpoint host of 513 characters", "controlPlaneEndpoint.host", noLB(strings.Repeat("a.", 256)+"a"),
		"Too long: may not be more than 512 bytes")...)
	add(clusterSpecRows("endpoint IP address out of range", "controlPlaneEndpoint.host", noLB("203.0.113.300"),
		"host must be an IP address or a DNS name")...)
	add(clusterSpecRows("endpoint port above 65535", "controlPlaneEndpoint.port", func(s *infrav1.VPSieClusterSpec) {
		noLB("api.mycluster.example.com")(s)
		s.ControlPlaneEndpoint.Port = 70000
	}, "should be less than or equal to 65535")...)
	add(clusterSpecRows("negative endpoint port", "controlPlaneEndpoint.port", func(s *infrav1.VPSieClusterSpec) {
		noLB("api.mycluster.example.com")(s)
		s.ControlPlaneEndpoint.Port = -1
	}, "should be greater than or equal to 1")...)

	// The VPC.
	vpc := func(v infrav1.VPCSpec) func(*infrav1.VPSieClusterSpec) {
		return func(s *infrav1.VPSieClusterSpec) { s.Network.VPC = v }
	}
	add(clusterSpecRows("VPC given both as id and cidr", "network.vpc", vpc(infrav1.VPCSpec{ID: "12", CIDR: "10.42.0.0/16"}),
		"set either id (use an existing VPC) or cidr (create one), not both")...)
	add(clusterSpecRows("VPC name without cidr", "network.vpc", vpc(infrav1.VPCSpec{ID: "12", Name: "mine"}),
		"name is for a VPC the provider creates: give cidr too")...)
	add(clusterSpecRows("VPC cidr not IPv4", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "fd00:42::/64"}),
		"cidr must be an IPv4 CIDR such as 10.42.0.0/16")...)
	add(clusterSpecRows("VPC cidr without a prefix length", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "10.42.0.0"}),
		"cidr must be an IPv4 CIDR such as 10.42.0.0/16")...)
	add(clusterSpecRows("VPC cidr with leading zeros", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "010.042.000.000/16"}),
		"cidr must be an IPv4 CIDR such as 10.42.0.0/16")...)
	add(clusterSpecRows("VPC cidr with host bits", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "10.42.0.1/16"}),
		"host bits must be zero: use 10.42.0.0/16")...)
	add(clusterSpecRows("VPC cidr too small for a cluster", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "10.42.0.0/30"}),
		"cidr must have a prefix length from /8 to /29")...)
	add(clusterSpecRows("VPC cidr larger than a /8", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "10.0.0.0/7"}),
		"cidr must have a prefix length from /8 to /29")...)
	add(clusterSpecRows("VPC cidr on public addresses", "network.vpc.cidr", vpc(infrav1.VPCSpec{CIDR: "8.8.0.0/16"}),
		"cidr must be inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")...)
	add(clusterSpecRows("VPC id with a space", "network.vpc.id", vpc(infrav1.VPCSpec{ID: "vpc 12"}),
		"id must be the id of an existing VPSie VPC", identifierHint)...)
	add(clusterSpecRows("VPC name with a newline", "network.vpc.name", vpc(infrav1.VPCSpec{CIDR: "10.42.0.0/16", Name: "capvpsie\nrm -rf"}),
		"name "+controlHint)...)

	// SSH keys and tags of the cluster.
	add(clusterSpecRows("cluster SSH key listed twice", "sshKeys[1]", func(s *infrav1.VPSieClusterSpec) {
		s.SSHKeys = []string{"key-a", "key-a"}
	}, `Duplicate value: "key-a"`)...)
	add(clusterSpecRows("empty cluster SSH key", "sshKeys[0]", func(s *infrav1.VPSieClusterSpec) {
		s.SSHKeys = []string{""}
	}, "should be at least 1 chars long")...)
	add(clusterSpecRows("33 cluster SSH keys", "sshKeys", func(s *infrav1.VPSieClusterSpec) {
		s.SSHKeys = keys(33)
	}, tooManyItems32)...)
	add(clusterSpecRows("cluster SSH public key instead of its identifier", "sshKeys[0]", func(s *infrav1.VPSieClusterSpec) {
		s.SSHKeys = []string{shortPublicKey}
	}, "sshKeys lists identifiers of SSH keys stored in the VPSie account, not public keys")...)
	add(clusterSpecRows("cluster SSH key identifier with a tab", "sshKeys[0]", func(s *infrav1.VPSieClusterSpec) {
		s.SSHKeys = []string{"key\ta"}
	}, "an SSH key identifier is "+identifierHint)...)
	add(clusterSpecRows("cluster tag with an escape sequence", "tags[0]", func(s *infrav1.VPSieClusterSpec) {
		s.Tags = []string{"team-\x1b[31ma"}
	}, "a tag "+controlHint)...)
	add(clusterSpecRows("33 cluster tags", "tags", func(s *infrav1.VPSieClusterSpec) {
		s.Tags = keys(33)
	}, tooManyItems32)...)

	// What only a VPSieCluster has.
	add(badObject{name: "management-cluster identity that cannot be a tag", kind: kindCluster,
		mutate: func(o client.Object) {
			o.SetAnnotations(map[string]string{infrav1.OwnerIdentityAnnotation: "Mgmt A"})
		}, want: []string{"metadata.annotations[" + infrav1.OwnerIdentityAnnotation + "]", "lower-case letters, digits and '-'"}})
	add(badObject{name: "cluster name with capitals and a space", kind: kindCluster, createOnly: true,
		mutate: func(o client.Object) { o.SetName("My Cluster") },
		want:   []string{"metadata.name:", "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"}})

	// Plan and image of the machine.
	add(machineSpecRows("no plan", "plan", func(s *infrav1.VPSieMachineSpec) { s.Plan = "" }, requiredHint)...)
	add(machineSpecRows("no image", "image", func(s *infrav1.VPSieMachineSpec) { s.Image = "" }, requiredHint)...)
	add(machineSpecRows("plan with a space", "plan", func(s *infrav1.VPSieMachineSpec) {
		s.Plan = "std 2vcpu"
	}, "plan must be the identifier of a VPSie plan", identifierHint)...)
	add(machineSpecRows("plan pasted with its newline", "plan", func(s *infrav1.VPSieMachineSpec) {
		s.Plan = "plan-s\n"
	}, identifierHint)...)
	add(machineSpecRows("plan with a NUL byte", "plan", func(s *infrav1.VPSieMachineSpec) {
		s.Plan = "plan\x00s"
	}, identifierHint)...)
	add(machineSpecRows("plan longer than an identifier", "plan", func(s *infrav1.VPSieMachineSpec) {
		s.Plan = strings.Repeat("p", 65)
	}, tooLong64)...)
	add(machineSpecRows("plan of 256 KiB", "plan", func(s *infrav1.VPSieMachineSpec) {
		s.Plan = strings.Repeat("p", hugeString)
	}, tooLong64)...)
	add(machineSpecRows("image with a terminal escape sequence", "image", func(s *infrav1.VPSieMachineSpec) {
		s.Image = "ubuntu\x1b]0;owned\x07"
	}, "image must be the identifier (osIdentifier) of a VPSie OS image", identifierHint)...)
	add(machineSpecRows("image given as a path", "image", func(s *infrav1.VPSieMachineSpec) {
		s.Image = "../../vm/delete"
	}, identifierHint)...)
	add(machineSpecRows("machine datacenter with spaces", "datacenter", func(s *infrav1.VPSieMachineSpec) {
		s.Datacenter = "New York 1"
	}, "datacenter must be the identifier (a UUID) of a VPSie datacenter", identifierHint)...)

	// SSH keys and tags of the machine.
	add(machineSpecRows("machine SSH key listed twice", "sshKeys[1]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{"key-a", "key-a"}
	}, `Duplicate value: "key-a"`)...)
	add(machineSpecRows("empty machine SSH key", "sshKeys[1]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{"key-a", ""}
	}, "should be at least 1 chars long")...)
	add(machineSpecRows("33 machine SSH keys", "sshKeys", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = keys(33)
	}, tooManyItems32)...)
	add(machineSpecRows("machine SSH public key instead of its identifier", "sshKeys[0]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{shortPublicKey}
	}, "not public keys: add the key to the account")...)
	add(machineSpecRows("whole machine SSH public key", "sshKeys[0]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{realPublicKey}
	}, "not public keys: add the key to the account")...)
	add(machineSpecRows("machine SSH key identifier longer than 64 characters", "sshKeys[0]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{strings.Repeat("k", 65)}
	}, "an SSH key identifier has at most 64 characters")...)
	add(machineSpecRows("machine SSH key of 256 KiB", "sshKeys[0]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{strings.Repeat("k", hugeString)}
	}, "Too long: may not be more than 1024 bytes")...)
	add(machineSpecRows("machine SSH key identifier with a newline", "sshKeys[0]", func(s *infrav1.VPSieMachineSpec) {
		s.SSHKeys = []string{"key-a\nkey-b"}
	}, "an SSH key identifier is "+identifierHint)...)
	add(machineSpecRows("only the machine's SSH keys, and none", "sshKeys", func(s *infrav1.VPSieMachineSpec) {
		s.IgnoreClusterSSHKeys = ptr.To(true)
	}, "ignoreClusterSSHKeys leaves the server with no SSH key: list at least one key")...)
	add(machineSpecRows("machine tag with a NUL byte", "tags[0]", func(s *infrav1.VPSieMachineSpec) {
		s.Tags = []string{"team\x00a"}
	}, "a tag "+controlHint)...)
	add(machineSpecRows("33 machine tags", "tags", func(s *infrav1.VPSieMachineSpec) {
		s.Tags = keys(33)
	}, tooManyItems32)...)

	// Extra cloud-init.
	cloudInit := func(data string) func(*infrav1.VPSieMachineSpec) {
		return func(s *infrav1.VPSieMachineSpec) { s.AdditionalCloudInit = data }
	}
	add(machineSpecRows("extra cloud-init without a header", "additionalCloudInit", cloudInit("packages: [htop]"),
		"not a cloud-init document: the first line must be #cloud-config")...)
	add(machineSpecRows("cloud-config with an unclosed list", "additionalCloudInit",
		cloudInit("#cloud-config\npackages:\n  - htop\nruncmd: [echo hi\n"),
		"a #cloud-config document must be valid YAML: line 4: did not find expected ',' or ']'")...)
	add(machineSpecRows("cloud-config indented with a tab", "additionalCloudInit",
		cloudInit("#cloud-config\npackages:\n\t- htop\n"),
		"line 3: found character that cannot start any token", "indent with spaces, not tabs")...)
	add(machineSpecRows("cloud-config with an unquoted colon", "additionalCloudInit",
		cloudInit("#cloud-config\nwrite_files:\n- path: /etc/motd\n  content: welcome: cluster\n"),
		"line 4: mapping values are not allowed in this context", `quote values holding ": "`)...)
	add(machineSpecRows("cloud-config with runcmd given twice", "additionalCloudInit",
		cloudInit("#cloud-config\nruncmd: [date]\nruncmd: [uptime]\n"),
		`line 3: key "runcmd" already set in map`)...)
	add(machineSpecRows("cloud-config that is a list", "additionalCloudInit",
		cloudInit("#cloud-config\n- packages: [htop]\n"),
		"a #cloud-config document must be a YAML mapping of cloud-init modules", "not a list")...)
	add(machineSpecRows("cloud-config-archive", "additionalCloudInit",
		cloudInit("#cloud-config-archive\n- type: text/cloud-config\n  content: 'packages: [htop]'\n"),
		"#cloud-config-archive is not supported: write one #cloud-config mapping")...)
	add(machineSpecRows("cloud-config that is a sentence", "additionalCloudInit",
		cloudInit("#cloud-config\ninstall htop please\n"),
		"must be a YAML mapping of cloud-init modules such as packages:, write_files: or runcmd:, not a string")...)
	add(machineSpecRows("cloud-config with an escape character", "additionalCloudInit",
		cloudInit("#cloud-config\nruncmd:\n  - echo \x1b[31mred\n"),
		"line 3 holds the control character U+001B", "write it as an escape")...)
	add(machineSpecRows("script with a NUL byte", "additionalCloudInit",
		cloudInit("#!/bin/sh\necho a\x00b\n"),
		"line 2 holds the control character U+0000")...)
	add(machineSpecRows("extra cloud-init over 32 KiB", "additionalCloudInit",
		cloudInit("#cloud-config\n#"+strings.Repeat("x", 32*1024)+"\n"),
		"Too long: may not be more than 32768 bytes")...)

	// What only a VPSieMachine has.
	add(badObject{name: "machine with a foreign provider ID", kind: kindMachine,
		mutate: func(o client.Object) { o.(*infrav1.VPSieMachine).Spec.ProviderID = "aws:///us-east-1a/i-123" },
		want:   []string{"spec.providerID:", "providerID must look like vpsie://<server identifier>"}})
	add(badObject{name: "provider ID without a server identifier", kind: kindMachine,
		mutate: func(o client.Object) { o.(*infrav1.VPSieMachine).Spec.ProviderID = "vpsie://" },
		want:   []string{"spec.providerID:", "providerID must look like vpsie://<server identifier>"}})
	add(badObject{name: "provider ID with a newline", kind: kindMachine,
		mutate: func(o client.Object) { o.(*infrav1.VPSieMachine).Spec.ProviderID = "vpsie://4b1d\nvpsie://other" },
		want:   []string{"spec.providerID:", "the identifier is letters, digits, '.', '_', ':' and '-' only"}})
	add(badObject{name: "machine name over 253 characters", kind: kindMachine, createOnly: true,
		mutate: func(o client.Object) { o.SetName(strings.Repeat("m", 254)) },
		want:   []string{"metadata.name:", "must be no more than 253 characters"}})

	// What only a VPSieMachineTemplate has.
	add(badObject{name: "template naming a server", kind: kindMachineTemplate,
		mutate: func(o client.Object) { o.(*infrav1.VPSieMachineTemplate).Spec.Template.Spec.ProviderID = "vpsie://abc" },
		want:   []string{"spec.template.spec.providerID:", "a template cannot name a server: leave providerID empty"}})
	add(badFirewalls()...)
	return rows
}

func validClusterTemplate(ns, name string) *infrav1.VPSieClusterTemplate {
	return &infrav1.VPSieClusterTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1.VPSieClusterTemplateSpec{Template: infrav1.VPSieClusterTemplateResource{
			Spec: validCluster(ns, name).Spec,
		}},
	}
}

// validObject is a valid object of kind and an empty list of the kind.
func validObject(kind, ns, name string) (client.Object, client.ObjectList) {
	switch kind {
	case kindCluster:
		return validCluster(ns, name), &infrav1.VPSieClusterList{}
	case kindClusterTemplate:
		return validClusterTemplate(ns, name), &infrav1.VPSieClusterTemplateList{}
	case kindMachine:
		return validMachine(ns, name), &infrav1.VPSieMachineList{}
	case kindMachineTemplate:
		return validMachineTemplate(ns, name), &infrav1.VPSieMachineTemplateList{}
	}
	panic("unknown kind " + kind)
}

// TestBadObjectsAreRejected sends every bad object through the real API server, with the CRDs' schemas and
// the provider's webhooks: each must be refused as Invalid with a message that names the field and says what
// to do, and nothing may be stored. The same mistake made in an update of a stored object must be refused
// the same way and leave the object as it was.
func TestBadObjectsAreRejected(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	rows := badObjects()

	perKind := map[string]int{}
	for _, r := range rows {
		perKind[r.kind]++
	}
	t.Logf("%d bad objects: %v", len(rows), perKind)
	NewWithT(t).Expect(len(rows)).To(BeNumerically(">=", 40))

	seen := map[string]bool{}
	for i, row := range rows {
		NewWithT(t).Expect(seen[row.kind+"/"+row.name]).To(BeFalse(), "row names are unique per kind: %s", row.name)
		seen[row.kind+"/"+row.name] = true
		t.Run(row.kind+"/"+row.name, func(t *testing.T) {
			g := NewWithT(t)
			name := fmt.Sprintf("bad-%03d", i)

			obj, list := validObject(row.kind, ns, name)
			row.mutate(obj)
			err := k8s.Create(ctx, obj)
			expectRefused(g, err, row.want)
			g.Expect(k8s.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			g.Expect(names(list)).NotTo(ContainElement(obj.GetName()), "a refused create stores nothing")

			if row.createOnly {
				return
			}
			stored, _ := validObject(row.kind, ns, name)
			g.Expect(k8s.Create(ctx, stored)).To(Succeed(), "the valid object the row spoils")
			before := stored.DeepCopyObject().(client.Object)
			row.mutate(stored)
			err = k8s.Update(ctx, stored)
			expectRefused(g, err, row.want)
			after, _ := validObject(row.kind, ns, name)
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(before), after)).To(Succeed())
			g.Expect(after.GetResourceVersion()).To(Equal(before.GetResourceVersion()), "a refused update writes nothing")
			g.Expect(after).To(Equal(before))
		})
	}
}

func expectRefused(g Gomega, err error, want []string) {
	g.ExpectWithOffset(1, err).To(HaveOccurred())
	g.ExpectWithOffset(1, apierrors.IsInvalid(err)).To(BeTrue(), "an Invalid error (422), got %v", err)
	for _, w := range want {
		g.ExpectWithOffset(1, err.Error()).To(ContainSubstring(w))
	}
	// A message is for a human: it never echoes a huge value back.
	g.ExpectWithOffset(1, len(err.Error())).To(BeNumerically("<", 4096), "message too long: %.300s...", err.Error())
}

func names(list client.ObjectList) []string {
	var out []string
	switch l := list.(type) {
	case *infrav1.VPSieClusterList:
		for _, o := range l.Items {
			out = append(out, o.Name)
		}
	case *infrav1.VPSieClusterTemplateList:
		for _, o := range l.Items {
			out = append(out, o.Name)
		}
	case *infrav1.VPSieMachineList:
		for _, o := range l.Items {
			out = append(out, o.Name)
		}
	case *infrav1.VPSieMachineTemplateList:
		for _, o := range l.Items {
			out = append(out, o.Name)
		}
	}
	sort.Strings(out)
	return out
}

// TestEdgeObjectsAreAccepted guards the other side: what is unusual but right must pass, or the rules above
// would stop a real cluster.
func TestEdgeObjectsAreAccepted(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	clusterSpecs := map[string]func(*infrav1.VPSieClusterSpec){
		"IPv6 endpoint": func(s *infrav1.VPSieClusterSpec) {
			s.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
			s.ControlPlaneEndpoint.Host, s.ControlPlaneEndpoint.Port = "2001:db8::10", 443
		},
		"endpoint DNS name in capitals with a trailing dot": func(s *infrav1.VPSieClusterSpec) {
			s.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
			s.ControlPlaneEndpoint.Host, s.ControlPlaneEndpoint.Port = "API.MyCluster.example.com.", 6443
		},
		"endpoint label of 63 characters": func(s *infrav1.VPSieClusterSpec) {
			s.ControlPlaneLoadBalancer.Enabled = ptr.To(false)
			s.ControlPlaneEndpoint.Host, s.ControlPlaneEndpoint.Port = strings.Repeat("a", 63)+".example.com", 1
		},
		"largest VPC":  func(s *infrav1.VPSieClusterSpec) { s.Network.VPC.CIDR = "10.0.0.0/8" },
		"smallest VPC": func(s *infrav1.VPSieClusterSpec) { s.Network.VPC.CIDR = "192.168.10.248/29" },
		"VPC in 172.16.0.0/12 with a name": func(s *infrav1.VPSieClusterSpec) {
			s.Network.VPC = infrav1.VPCSpec{CIDR: "172.31.0.0/16", Name: "Team A's VPC"}
		},
		"existing VPC by number": func(s *infrav1.VPSieClusterSpec) { s.Network.VPC.ID = "412" },
		"32 SSH keys, one named like a key type": func(s *infrav1.VPSieClusterSpec) {
			s.SSHKeys = append(keys(31), "ssh-key-identifier")
		},
		"everything set": func(s *infrav1.VPSieClusterSpec) {
			s.ProjectID = "1204"
			s.FailureDomains = failureDomains(16)
			s.ControlPlaneLoadBalancer = infrav1.LoadBalancerSpec{Plan: "1b000000-0000-4000-8000-000000000002", Port: 65535}
			s.Tags = []string{"team a", "env:prod", "cost-center/42"}
			s.CredentialsRef.Name = "vpsie.credentials-2"
		},
	}
	machineSpecs := map[string]func(*infrav1.VPSieMachineSpec){
		"identifiers with every allowed character": func(s *infrav1.VPSieMachineSpec) {
			s.Plan, s.Image, s.Datacenter = "Plan_2.vCPU:4GB", "1a000000-0000-4000-8000-000000000001", "dc.NY-1"
		},
		"only the machine's own keys": func(s *infrav1.VPSieMachineSpec) {
			s.IgnoreClusterSSHKeys = ptr.To(true)
			s.SSHKeys = keys(32)
		},
		"cloud-config with comments, files and commands": func(s *infrav1.VPSieMachineSpec) {
			s.AdditionalCloudInit = "#cloud-config\r\n# tune the node\r\npackages: [htop, jq]\r\nwrite_files:\r\n" +
				"- path: /etc/motd\r\n  content: \"welcome: cluster \\e[1m\"\r\nruncmd:\r\n  - [sh, -c, 'echo a: b # not a comment']\r\n"
		},
		"empty cloud-config": func(s *infrav1.VPSieMachineSpec) { s.AdditionalCloudInit = "#cloud-config\n" },
		"jinja template, not YAML before rendering": func(s *infrav1.VPSieMachineSpec) {
			s.AdditionalCloudInit = "## template: jinja\n#cloud-config\nruncmd:\n{% for i in range(3) %}  - echo {{ i }}\n{% endfor %}"
		},
		"script with tabs": func(s *infrav1.VPSieMachineSpec) {
			s.AdditionalCloudInit = "#!/bin/bash\nif true; then\n\techo 'tabbed'\nfi\n"
		},
		"cloud-config of exactly 32 KiB": func(s *infrav1.VPSieMachineSpec) {
			head := "#cloud-config\n#"
			s.AdditionalCloudInit = head + strings.Repeat("x", 32*1024-len(head))
		},
	}
	i := 0
	for name, mutate := range clusterSpecs {
		i++
		c := validCluster(ns, fmt.Sprintf("good-%02d", i))
		mutate(&c.Spec)
		ct := validClusterTemplate(ns, fmt.Sprintf("good-%02d", i))
		mutate(&ct.Spec.Template.Spec)
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(k8s.Create(ctx, c)).To(Succeed())
			g.Expect(k8s.Create(ctx, ct)).To(Succeed())
		})
	}
	for name, mutate := range machineSpecs {
		i++
		m := validMachine(ns, fmt.Sprintf("good-%02d", i))
		mutate(&m.Spec)
		mt := validMachineTemplate(ns, fmt.Sprintf("good-%02d", i))
		mutate(&mt.Spec.Template.Spec)
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(k8s.Create(ctx, m)).To(Succeed())
			g.Expect(k8s.Create(ctx, mt)).To(Succeed())
		})
	}
	t.Run("the longest legal names: the provider cuts the hostname it derives", func(t *testing.T) {
		g := NewWithT(t)
		long := strings.Repeat("a", 240) + ".b-" + strings.Repeat("c", 10)
		g.Expect(k8s.Create(ctx, validMachine(ns, long))).To(Succeed())
		g.Expect(k8s.Create(ctx, validCluster(ns, long))).To(Succeed())
	})
}
