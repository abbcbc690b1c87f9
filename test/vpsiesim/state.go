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

package vpsiesim

import (
	"slices"
	"strings"
)

// VMs returns the live VMs (pending, running, stopped, being deleted) in creation order.
func (s *Simulator) VMs() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VM
	for _, v := range s.sortedVMsLocked() {
		if v.Live() {
			out = append(out, v.clone())
		}
	}
	return out
}

// DeletedVMs returns the VMs that are gone (deleted through the API or vanished), in creation order.
func (s *Simulator) DeletedVMs() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VM
	for _, v := range s.sortedVMsLocked() {
		if !v.Live() {
			out = append(out, v.clone())
		}
	}
	return out
}

// PendingVMs returns the VMs that have not booted yet.
func (s *Simulator) PendingVMs() []VM {
	var out []VM
	for _, v := range s.VMs() {
		if v.State == VMPending {
			out = append(out, v)
		}
	}
	return out
}

// VM returns any VM the simulator knows (live or gone) by identifier.
func (s *Simulator) VM(identifier string) (VM, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vms[identifier]
	if v == nil {
		return VM{}, false
	}
	return v.clone(), true
}

// VMsByHostname returns the live VMs with that hostname (case-insensitive). Hostnames are not unique: a client
// that creates twice gets two VMs.
func (s *Simulator) VMsByHostname(hostname string) []VM {
	var out []VM
	for _, v := range s.VMs() {
		if strings.EqualFold(v.Hostname, hostname) {
			out = append(out, v)
		}
	}
	return out
}

// LoadBalancers returns the load balancers (pending and active) in creation order.
func (s *Simulator) LoadBalancers() []LoadBalancer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LoadBalancer
	for _, lb := range s.sortedLBsLocked() {
		out = append(out, lb.clone())
	}
	return out
}

// LoadBalancersByName returns the load balancers with that lbName.
func (s *Simulator) LoadBalancersByName(name string) []LoadBalancer {
	var out []LoadBalancer
	for _, lb := range s.LoadBalancers() {
		if lb.Name == name {
			out = append(out, lb)
		}
	}
	return out
}

// VPCs returns the VPCs ordered by id.
func (s *Simulator) VPCs() []VPC {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VPC
	for _, v := range s.sortedVPCsLocked() {
		out = append(out, v.clone())
	}
	return out
}

// SSHKeys returns the account's SSH keys.
func (s *Simulator) SSHKeys() []SSHKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SSHKey
	for _, k := range s.sshKeys {
		out = append(out, *k)
	}
	return out
}

// Scripts returns the account's startup scripts.
func (s *Simulator) Scripts() []Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Script
	for _, sc := range s.scripts {
		out = append(out, *sc)
	}
	return out
}

// Tags returns the account's tags.
func (s *Simulator) Tags() []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Tag
	for _, t := range s.tags {
		out = append(out, *t)
	}
	return out
}

// State is the snapshot GET /_sim/state answers.
type State struct {
	Catalog       Catalog        `json:"catalog"`
	VMs           []VM           `json:"vms"`
	DeletedVMs    []VM           `json:"deletedVms"`
	LoadBalancers []LoadBalancer `json:"loadBalancers"`
	VPCs          []VPC          `json:"vpcs"`
	// FirewallGroups shows which servers (VMs) have which groups.
	FirewallGroups []FirewallGroup `json:"firewallGroups"`
	SSHKeys        []SSHKey        `json:"sshKeys"`
	Scripts        []Script        `json:"scripts"`
	Tags           []Tag           `json:"tags"`
	Faults         Faults          `json:"faults"`
}

// Snapshot returns the whole simulated state. Slices are never nil (they encode as []).
func (s *Simulator) Snapshot() State {
	return State{
		Catalog:        s.Catalog(),
		VMs:            nonNil(s.VMs()),
		DeletedVMs:     nonNil(s.DeletedVMs()),
		LoadBalancers:  nonNil(s.LoadBalancers()),
		VPCs:           nonNil(s.VPCs()),
		FirewallGroups: nonNil(s.FirewallGroups()),
		SSHKeys:        nonNil(s.SSHKeys()),
		Scripts:        nonNil(s.Scripts()),
		Tags:           nonNil(s.Tags()),
		Faults:         s.Faults(),
	}
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return slices.Clip(v)
}
