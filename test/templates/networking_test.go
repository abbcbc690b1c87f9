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

package templates

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The node scripts the flavors ship.
const (
	privateAddressScript = "/usr/local/bin/capvpsie-use-private-address"
	installScript        = "/usr/local/bin/capvpsie-install-kubernetes.sh"
	aptRepositoryScript  = "/usr/local/bin/capvpsie-kubernetes-apt-repository"
)

// TestFlavorsPutNodesOnTheVPC: the default and autoscaler flavors create a VPC and the firewall group, tell every
// node the VPC's range and run the private-address script after the install script; VPSIE_VPC_CIDR changes both
// places, VPSIE_FIREWALL turns the group off, VPSIE_WORKER_PUBLIC_IPV4 the workers' public addresses.
func TestFlavorsPutNodesOnTheVPC(t *testing.T) {
	ns := newNamespace(t)
	for _, flavor := range []string{"default", "autoscaler"} {
		t.Run(flavor, func(t *testing.T) {
			for _, tc := range []struct {
				vars         map[string]string
				cidr         string
				firewall     bool
				workerPublic bool
			}{
				{cidr: "10.42.0.0/16", firewall: true, workerPublic: true},
				{vars: map[string]string{"VPSIE_VPC_CIDR": "10.77.0.0/20", "VPSIE_FIREWALL": "false", "VPSIE_WORKER_PUBLIC_IPV4": "false"},
					cidr: "10.77.0.0/20"},
			} {
				g := NewWithT(t)
				objs := renderWith(t, flavors[flavor], ns, tc.vars)
				kubeadmConfigs := 0
				for _, o := range objs {
					switch o.GetKind() {
					case "VPSieCluster":
						g.Expect(str(o.Object, "spec", "network", "vpc", "cidr")).To(Equal(tc.cidr))
						enabled, _, _ := unstructured.NestedBool(o.Object, "spec", "firewall", "enabled")
						g.Expect(enabled).To(Equal(tc.firewall))
					case "VPSieMachineTemplate":
						public, found, _ := unstructured.NestedBool(o.Object, "spec", "template", "spec", "publicIPv4")
						if o.GetName() == "capvpsie-test-md-0" {
							g.Expect(found).To(BeTrue())
							g.Expect(public).To(Equal(tc.workerPublic))
						} else {
							g.Expect(found).To(BeFalse(), "control-plane servers keep the default public IPv4")
						}
					case "KubeadmControlPlane", "KubeadmConfigTemplate":
						kubeadmConfigs++
						files := kubeadmFiles(o)
						g.Expect(files).To(ContainElement(SatisfyAll(HaveKeyWithValue("path", "/etc/capvpsie/vpc-cidr"),
							HaveKeyWithValue("content", tc.cidr))), o.GetKind())
						g.Expect(files).To(ContainElement(HaveKeyWithValue("path", privateAddressScript)))
						commands := preKubeadmCommands(o)
						install := slices.Index(commands, "/usr/local/bin/capvpsie-install-kubernetes.sh")
						g.Expect(install).To(BeNumerically(">=", 0))
						g.Expect(slices.Index(commands, privateAddressScript)).To(Equal(install+1),
							"%s: the private address is set after the install (the kubelet's defaults file) and before kubeadm", o.GetKind())
					}
				}
				g.Expect(kubeadmConfigs).To(Equal(2))
			}
		})
	}
}

func preKubeadmCommands(o unstructured.Unstructured) []string {
	path := []string{"spec", "template", "spec", "preKubeadmCommands"}
	if o.GetKind() == "KubeadmControlPlane" {
		path = []string{"spec", "kubeadmConfigSpec", "preKubeadmCommands"}
	}
	cmds, _, _ := unstructured.NestedStringSlice(o.Object, path...)
	return cmds
}

// flavorScript is the content of a node script as the default flavor renders it.
func flavorScript(t *testing.T, path string) string {
	t.Helper()
	for _, o := range render(t, flavors["default"], newNamespace(t)) {
		for _, f := range kubeadmFiles(o) {
			if str(f, "path") == path {
				return str(f, "content")
			}
		}
	}
	t.Fatalf("the default flavor ships no %s", path)
	return ""
}

// TestInstallScriptFindsItsPackages: with KUBERNETES_APT_REPOSITORY at its default the install script takes the packages from
// the Kubernetes project's community repository of KUBERNETES_VERSION's minor (its helper, run here, derives it;
// a repository given is used as it is); it waits for the dpkg lock instead of failing on it.
func TestInstallScriptFindsItsPackages(t *testing.T) {
	g := NewWithT(t)
	for _, o := range render(t, flavors["default"], newNamespace(t)) {
		for _, f := range kubeadmFiles(o) {
			if str(f, "path") == "/etc/capvpsie/kubernetes-apt-repository" {
				g.Expect(str(f, "content")).To(Equal("pkgs.k8s.io"), "the default: the community repository")
			}
		}
	}
	install := flavorScript(t, installScript)
	g.Expect(install).To(ContainSubstring(`DPkg::Lock::Timeout "600"`))
	g.Expect(install).To(ContainSubstring("systemctl stop apt-daily.timer apt-daily-upgrade.timer"))
	g.Expect(install).To(ContainSubstring(aptRepositoryScript + " > /run/capvpsie-kubernetes-apt-repository"))
	g.Expect(install).NotTo(ContainSubstring("< /etc/capvpsie/kubernetes-apt-repository"), "the repository comes from the helper")

	dir := t.TempDir()
	helper := filepath.Join(dir, "capvpsie-kubernetes-apt-repository")
	g.Expect(os.WriteFile(helper, []byte(flavorScript(t, aptRepositoryScript)), 0o755)).To(Succeed())
	for _, tc := range []struct {
		name, version, repository, want, fails string
	}{
		{name: "derived", version: "v1.34.1", repository: "pkgs.k8s.io", want: "https://pkgs.k8s.io/core:/stable:/v1.34/deb"},
		{name: "nothing given", version: "v1.34.1", want: "https://pkgs.k8s.io/core:/stable:/v1.34/deb"},
		{name: "derived without v", version: "1.35.0\n", want: "https://pkgs.k8s.io/core:/stable:/v1.35/deb"},
		{name: "a pre-release", version: "v1.36.0-rc.1", want: "https://pkgs.k8s.io/core:/stable:/v1.36/deb"},
		{name: "given", version: "v1.34.1", repository: "https://mirror.example/kubernetes/v1.34/deb/\n",
			want: "https://mirror.example/kubernetes/v1.34/deb"},
		{name: "no version", version: "latest", fails: "holds 'latest', not a version such as v1.34.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			root := filepath.Join(dir, tc.name)
			g.Expect(os.MkdirAll(filepath.Join(root, "etc", "capvpsie"), 0o755)).To(Succeed())
			unescape := func(s string) []byte { return []byte(strings.ReplaceAll(s, `\n`, "\n")) }
			g.Expect(os.WriteFile(filepath.Join(root, "etc", "capvpsie", "kubernetes-version"), unescape(tc.version), 0o644)).To(Succeed())
			g.Expect(os.WriteFile(filepath.Join(root, "etc", "capvpsie", "kubernetes-apt-repository"), unescape(tc.repository), 0o644)).To(Succeed())
			cmd := exec.Command("python3", helper)
			cmd.Env = []string{"CAPVPSIE_ROOT=" + root, "PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if tc.fails != "" {
				g.Expect(err).To(HaveOccurred())
				g.Expect(string(out)).To(ContainSubstring(tc.fails))
				return
			}
			g.Expect(err).NotTo(HaveOccurred(), string(out))
			g.Expect(string(out)).To(Equal(tc.want + "\n"))
		})
	}
}

// TestPrivateAddressScript runs the private-address script the default flavor ships (python3 with PyYAML, as on
// a stock Ubuntu with cloud-init) against a fake `ip` and a scratch root: it writes the kubelet's --node-ip and
// the advertise addresses of the kubeadm configuration, does nothing without a VPC range, and fails with a
// message naming the range when no address in it comes up.
func TestPrivateAddressScript(t *testing.T) {
	g := NewWithT(t)
	script := ""
	for _, o := range render(t, flavors["default"], newNamespace(t)) {
		for _, f := range kubeadmFiles(o) {
			if str(f, "path") == privateAddressScript {
				script = str(f, "content")
			}
		}
	}
	g.Expect(script).NotTo(BeEmpty())
	dir := t.TempDir()
	scriptFile := filepath.Join(dir, "capvpsie-use-private-address")
	g.Expect(os.WriteFile(scriptFile, []byte(script), 0o755)).To(Succeed())

	// ip -j -4 addr show, as iproute2 prints it: the public interface, then the VPC's.
	bin := filepath.Join(dir, "bin")
	g.Expect(os.MkdirAll(bin, 0o755)).To(Succeed())
	addrs := filepath.Join(dir, "addrs.json")
	g.Expect(os.WriteFile(filepath.Join(bin, "ip"), []byte("#!/bin/sh\ncat "+addrs+"\n"), 0o755)).To(Succeed())
	g.Expect(os.WriteFile(addrs, []byte(`[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
		{"ifname":"eth0","addr_info":[{"family":"inet","local":"203.0.113.21","prefixlen":24}]},
		{"ifname":"eth1","addr_info":[{"family":"inet","local":"10.42.3.17","prefixlen":16}]}]`), 0o644)).To(Succeed())

	run := func(root string, env ...string) (string, error) {
		cmd := exec.Command("python3", scriptFile)
		cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "CAPVPSIE_ROOT=" + root}, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	write := func(root, path, content string) {
		p := filepath.Join(root, path)
		g.Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
	}
	read := func(root, path string) string {
		b, err := os.ReadFile(filepath.Join(root, path))
		g.Expect(err).NotTo(HaveOccurred())
		return string(b)
	}

	root := filepath.Join(dir, "node")
	write(root, "etc/capvpsie/vpc-cidr", "10.42.0.0/16\n")
	write(root, "run/kubeadm/kubeadm.yaml", `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controlPlaneEndpoint: 203.0.113.9:6443
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: cp-0
`)
	write(root, "run/kubeadm/kubeadm-join-config.yaml", `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
controlPlane: {}
nodeRegistration:
  name: cp-1
`)
	out, err := run(root)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("using the VPC address 10.42.3.17"))
	g.Expect(read(root, "etc/default/kubelet")).To(Equal("KUBELET_EXTRA_ARGS=--node-ip=10.42.3.17\n"))
	g.Expect(read(root, "run/kubeadm/kubeadm.yaml")).To(SatisfyAll(
		ContainSubstring("kind: InitConfiguration"), ContainSubstring("advertiseAddress: 10.42.3.17"),
		ContainSubstring("controlPlaneEndpoint: 203.0.113.9:6443"), ContainSubstring("name: cp-0")))
	g.Expect(read(root, "run/kubeadm/kubeadm-join-config.yaml")).To(MatchRegexp(`controlPlane:\s+localAPIEndpoint:\s+advertiseAddress: 10.42.3.17`))

	// A worker's join configuration has no controlPlane: it gets only the kubelet's node IP.
	worker := filepath.Join(dir, "worker")
	write(worker, "etc/capvpsie/vpc-cidr", "10.42.0.0/16")
	write(worker, "run/kubeadm/kubeadm-join-config.yaml", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n")
	out, err = run(worker)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(read(worker, "run/kubeadm/kubeadm-join-config.yaml")).NotTo(ContainSubstring("advertiseAddress"))
	g.Expect(read(worker, "etc/default/kubelet")).To(ContainSubstring("--node-ip=10.42.3.17"))

	// No VPC range: nothing is written.
	none := filepath.Join(dir, "none")
	g.Expect(os.MkdirAll(none, 0o755)).To(Succeed())
	out, err = run(none)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(filepath.Join(none, "etc", "default", "kubelet")).NotTo(BeAnExistingFile())

	// No address in the range (the server never joined the VPC): a failure that says so.
	lost := filepath.Join(dir, "lost")
	write(lost, "etc/capvpsie/vpc-cidr", "10.99.0.0/16")
	out, err = run(lost, "CAPVPSIE_WAIT_SECONDS=0")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("no address in the VPC range 10.99.0.0/16 after 0 s"))
}

// TestNodeNameIsTheHostname: no flavor names the Node from VPSie's metadata: kubeadm takes the hostname, which
// the provider sets in the user data (pkg/cloudinit.HostnamePart) to the name it looks the Node up by.
func TestNodeNameIsTheHostname(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	sources := map[string][]unstructured.Unstructured{"clusterclass": clusterClassObjects(t)}
	for flavor, file := range flavors {
		sources[flavor] = render(t, file, ns)
	}
	registrations := 0
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "nodeRegistration" {
					registrations++
					g.Expect(child).NotTo(HaveKey("name"), "%s: nodeRegistration.name", where)
				}
				walk(where, child)
			}
		case []any:
			for _, child := range v {
				walk(where, child)
			}
		}
	}
	for source, objs := range sources {
		for _, o := range objs {
			walk(source+" "+o.GetKind()+" "+o.GetName(), o.Object)
		}
	}
	g.Expect(registrations).To(Equal(3*3+3), "init and join of each control plane, join of each worker pool")
}
