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
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Simulated address ranges (simulator choices, see README.md).
var (
	publicIPv4Base  = netip.MustParseAddr("198.18.0.0")    // 198.18.0.0/15, the benchmarking range
	publicIPv6Base  = netip.MustParseAddr("2001:db8:5e::") // documentation range
	privateIPv4Base = netip.MustParseAddr("10.250.0.0")    // the account's default private network (addPrivateIp)
)

// OnVMBoot registers a hook called (outside the simulator's lock, in the goroutine that booted the VM) each
// time a VM boots. Boots happen on time through timers, whether or not requests arrive. Hooks must not call Close.
func (s *Simulator) OnVMBoot(f func(VM)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bootHooks = append(s.bootHooks, f)
}

// OnVMDelete registers a hook called when a VM that had booted is gone: deleted through the API (after
// DeleteDelay) or vanished (VanishVM). The VM passed has State VMDeleted or VMVanished.
func (s *Simulator) OnVMDelete(f func(VM)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delHooks = append(s.delHooks, f)
}

func runHooks(hooks []func(VM), vms []VM) {
	for _, v := range vms {
		for _, h := range hooks {
			h(v)
		}
	}
}

// scheduleLocked runs fn after d on a timer that Close stops. Caller holds s.mu.
func (s *Simulator) scheduleLocked(key string, d time.Duration, fn func()) {
	if s.closed {
		return
	}
	s.cancelLocked(key)
	s.wg.Add(1)
	s.timers[key] = time.AfterFunc(max(d, 0), func() {
		defer s.wg.Done()
		fn()
	})
}

// cancelLocked stops a scheduled timer. Caller holds s.mu.
func (s *Simulator) cancelLocked(key string) {
	if t, ok := s.timers[key]; ok {
		delete(s.timers, key)
		if t.Stop() {
			s.wg.Done()
		}
	}
}

func (s *Simulator) bootFromTimer(id string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.timers, "boot:"+id)
	var booted []VM
	if v := s.vms[id]; v != nil && v.State == VMPending {
		booted = s.tryBootLocked(v)
	}
	hooks := slices.Clone(s.bootHooks)
	s.mu.Unlock()
	runHooks(hooks, booted)
}

// tryBootLocked boots v unless Faults.NeverBoot holds it back.
func (s *Simulator) tryBootLocked(v *VM) []VM {
	if s.neverBoots(v.Hostname) {
		v.Stuck = true
		return nil
	}
	s.bootLocked(v)
	return []VM{v.clone()}
}

// bootLocked turns a pending VM into a running one: numeric id, addresses, timestamps.
func (s *Simulator) bootLocked(v *VM) {
	now := time.Now()
	v.ID = s.nextID("vm", 10000)
	v.State, v.Stuck = VMRunning, false
	v.BootedAt, v.PoweredAt, v.UpdatedAt = now, now, now
	if v.AddPublicIPv4 {
		v.PublicIPv4 = s.allocLocked("public4", publicIPv4Base)
	}
	if v.AddPublicIPv6 {
		v.PublicIPv6 = s.allocLocked("public6", publicIPv6Base)
	}
	if v.AddPrivateIP && v.PrivateIP == "" {
		v.PrivateIP = s.allocLocked("private4", privateIPv4Base)
		v.PrivateIPID = s.nextID("privateip", 700)
	}
}

// allocLocked hands out the next address of a pool, skipping .0, .1 and .255 host parts in IPv4 pools.
// Addresses are never reused.
func (s *Simulator) allocLocked(pool string, base netip.Addr) string {
	for {
		n := s.nextID("ip:"+pool, 9)
		a := addrAdd(base, n)
		if a.Is4() {
			b := a.As4()
			if b[3] == 0 || b[3] == 1 || b[3] == 255 {
				continue
			}
		}
		return a.String()
	}
}

func addrAdd(base netip.Addr, n int) netip.Addr {
	b := base.AsSlice()
	carry := n
	for i := len(b) - 1; i >= 0 && carry > 0; i-- {
		sum := int(b[i]) + carry
		b[i] = byte(sum % 256)
		carry = sum / 256
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// BootNow boots a pending VM at once (also one held back by Faults.NeverBoot) and runs the boot hooks.
func (s *Simulator) BootNow(identifier string) error {
	s.mu.Lock()
	v := s.vms[identifier]
	if v == nil || v.State != VMPending {
		s.mu.Unlock()
		return fmt.Errorf("vpsiesim: no pending VM %q", identifier)
	}
	s.cancelLocked("boot:" + identifier)
	s.bootLocked(v)
	booted := []VM{v.clone()}
	hooks := slices.Clone(s.bootHooks)
	s.mu.Unlock()
	runHooks(hooks, booted)
	return nil
}

// VanishVM removes a live VM without the API (as if deleted from the console, or lost). The delete hooks run
// if the VM had booted.
func (s *Simulator) VanishVM(identifier string) error {
	s.mu.Lock()
	v := s.vms[identifier]
	if v == nil || !v.Live() {
		s.mu.Unlock()
		return fmt.Errorf("vpsiesim: no live VM %q", identifier)
	}
	gone := s.removeVMLocked(v, VMVanished)
	hooks := slices.Clone(s.delHooks)
	s.mu.Unlock()
	runHooks(hooks, gone)
	return nil
}

// removeVMLocked marks v gone, releases its VPC membership and returns it for the delete hooks (empty when
// it never booted).
func (s *Simulator) removeVMLocked(v *VM, state VMState) []VM {
	s.cancelLocked("boot:" + v.Identifier)
	s.cancelLocked("delete:" + v.Identifier)
	if vpc := s.vpcs[v.VPCID]; vpc != nil {
		vpc.VMs = slices.DeleteFunc(vpc.VMs, func(id string) bool { return id == v.Identifier })
	}
	now := time.Now()
	v.State, v.DeletedAt, v.UpdatedAt = state, now, now
	if v.BootedAt.IsZero() {
		return nil
	}
	return []VM{v.clone()}
}

func (s *Simulator) deleteFromTimer(id string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.timers, "delete:"+id)
	var gone []VM
	if v := s.vms[id]; v != nil && v.State == VMDeleting {
		gone = s.removeVMLocked(v, VMDeleted)
	}
	hooks := slices.Clone(s.delHooks)
	s.mu.Unlock()
	runHooks(hooks, gone)
}
