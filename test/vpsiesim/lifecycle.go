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

// tryBootLocked boots v unless Faults.NeverBoot holds it back. It returns the VMs for the boot hooks.
func (s *Simulator) tryBootLocked(v *VM) []VM {
	if s.neverBoots(v.Hostname) {
		v.Stuck = true
		return nil
	}
	return s.bootLocked(v)
}

// bootLocked takes a VM out of the pending queue: it gets its numeric id and its visibility stamps
// (Faults.ListGap, Faults.ListLag, fixed now so that later fault changes do not rewrite its history). It is up
// at once, or after Faults.BootListedUnpowered (counted from when the API shows it), which is when the boot
// hooks see it. It returns the VMs for the boot hooks.
func (s *Simulator) bootLocked(v *VM) []VM {
	f := s.modes()
	now := time.Now()
	v.ID = s.nextID("vm", 10000)
	v.Stuck = false
	v.LeftPendingAt, v.UpdatedAt = now, now
	v.VisibleAt = now.Add(f.ListGap)
	v.ListedAt = v.VisibleAt.Add(f.ListLag)
	if f.BootListedUnpowered > 0 {
		v.State = VMBooting
		id := v.Identifier
		s.scheduleLocked("power:"+id, f.ListGap+f.BootListedUnpowered, func() { s.powerOnFromTimer(id) })
		return nil
	}
	s.powerOnLocked(v, now)
	return []VM{v.clone()}
}

// powerOnLocked makes a VM that left the queue really up: running, with its addresses.
func (s *Simulator) powerOnLocked(v *VM, now time.Time) {
	v.State = VMRunning
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

func (s *Simulator) powerOnFromTimer(id string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.timers, "power:"+id)
	var booted []VM
	if v := s.vms[id]; v != nil && v.State == VMBooting {
		s.powerOnLocked(v, time.Now())
		booted = []VM{v.clone()}
	}
	hooks := slices.Clone(s.bootHooks)
	s.mu.Unlock()
	runHooks(hooks, booted)
}

// shownAddresses are the addresses the API shows: none while the VM is still booting
// (Faults.BootListedUnpowered), even if a VPC attach already gave it one.
func (v *VM) shownAddresses() (public4, public6, private string) {
	if v.State == VMBooting {
		return "", "", ""
	}
	return v.PublicIPv4, v.PublicIPv6, v.PrivateIP
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

// BootNow ends the pending time of a VM at once (also of one held back by Faults.NeverBoot): it boots as it
// would have on time, hostile boot modes included, and the boot hooks run when it is up. A VM that is booting
// (Faults.BootListedUnpowered) is powered on at once.
func (s *Simulator) BootNow(identifier string) error {
	s.mu.Lock()
	v := s.vms[identifier]
	if v == nil || (v.State != VMPending && v.State != VMBooting) {
		s.mu.Unlock()
		return fmt.Errorf("vpsiesim: no pending or booting VM %q", identifier)
	}
	var booted []VM
	if v.State == VMBooting {
		s.cancelLocked("power:" + identifier)
		s.powerOnLocked(v, time.Now())
		booted = []VM{v.clone()}
	} else {
		s.cancelLocked("boot:" + identifier)
		booted = s.bootLocked(v)
	}
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
// it never was up).
func (s *Simulator) removeVMLocked(v *VM, state VMState) []VM {
	for _, t := range []string{"boot:", "delete:", "power:", "vpc:"} {
		s.cancelLocked(t + v.Identifier)
	}
	now := time.Now()
	s.rememberVMLocked(v, now)
	if vpc := s.vpcs[v.VPCID]; vpc != nil {
		vpc.VMs = slices.DeleteFunc(vpc.VMs, func(id string) bool { return id == v.Identifier })
	}
	s.detachFirewallsLocked(v.Identifier)
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
