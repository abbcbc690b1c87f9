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
	"net/http"
	"slices"
	"strings"
	"time"
)

type deleteVMRequest struct {
	VMIdentifier    string           `json:"vmIdentifier"`
	Password        string           `json:"password"`
	DeleteStatistic *deleteStatistic `json:"deleteStatistic"`
}

// handleDeleteVM serves DELETE {prefix}/vm with the JSON body {vmIdentifier, password, deleteStatistic}.
// Checks, in order: vmIdentifier present (400), password present (400) and equal to the account password
// (403), deleteStatistic.reason present (400), VM known and booted (404). A VM already being deleted answers
// data:true again.
func (s *Simulator) handleDeleteVM(w http.ResponseWriter, r *http.Request) {
	var in deleteVMRequest
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if in.VMIdentifier == "" {
		writeError(w, http.StatusBadRequest, "vmIdentifier is required")
		return
	}
	if in.Password == "" {
		writeError(w, http.StatusBadRequest, "password is required")
		return
	}
	s.mu.Lock()
	passOK := s.creds.AccountPassword != "" && equal(in.Password, s.creds.AccountPassword)
	s.mu.Unlock()
	if !passOK {
		writeError(w, http.StatusForbidden, msgInvalidPassword)
		return
	}
	if in.DeleteStatistic == nil || strings.TrimSpace(in.DeleteStatistic.Reason) == "" {
		writeError(w, http.StatusBadRequest, msgReasonRequired)
		return
	}

	s.mu.Lock()
	v := s.vms[in.VMIdentifier]
	if v == nil || !v.shown(time.Now()) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, msgVMNotFound)
		return
	}
	var gone []VM
	if v.State != VMDeleting {
		// UpdatedAt moves only with the state change, so that a lagging list keeps the VM as it last was.
		v.DeleteRequestedAt = time.Now()
		v.DeleteReason, v.DeleteNote = in.DeleteStatistic.Reason, in.DeleteStatistic.Note
		if s.opts.DeleteDelay > 0 {
			v.State, v.UpdatedAt = VMDeleting, v.DeleteRequestedAt
			id := v.Identifier
			s.scheduleLocked("delete:"+id, s.opts.DeleteDelay, func() { s.deleteFromTimer(id) })
		} else {
			gone = s.removeVMLocked(v, VMDeleted)
		}
	}
	hooks := slices.Clone(s.delHooks)
	s.mu.Unlock()
	runHooks(hooks, gone)
	writeBool(w, true)
}

// msgVMProvisioning refuses to stop a VM that is still booting.
const msgVMProvisioning = "VM is still being provisioned"

type vmRef struct {
	VMIdentifier string `json:"vmIdentifier"`
}

// withVM decodes a body naming a VM, finds the (shown, not deleting) VM and runs fn under the lock.
// fn returns an error message (answered 404 when it ends in "not found", else 400) or "".
func (s *Simulator) withVM(w http.ResponseWriter, r *http.Request, in interface{ vm() string }, fn func(v *VM) string) {
	s.withVMRefusal(w, r, in, func(v *VM) *refusal {
		if msg := fn(v); msg != "" {
			return refuse(msg)
		}
		return nil
	})
}

// refusal is an error answer: the envelope's code may differ from the HTTP status (HTTP 200 with
// "error":true happens on the real API).
type refusal struct {
	httpStatus, code int
	msg              string
}

// refuse is the usual refusal of a message: 404 when it ends in "not found", else 400.
func refuse(msg string) *refusal {
	status := http.StatusBadRequest
	if strings.HasSuffix(msg, "not found") {
		status = http.StatusNotFound
	}
	return &refusal{httpStatus: status, code: status, msg: msg}
}

// withVMRefusal is withVM for handlers that need to choose the status of their refusals.
func (s *Simulator) withVMRefusal(w http.ResponseWriter, r *http.Request, in interface{ vm() string }, fn func(v *VM) *refusal) {
	if _, ok := decodeBody(w, r, in); !ok {
		return
	}
	if in.vm() == "" {
		writeError(w, http.StatusBadRequest, "vmIdentifier is required")
		return
	}
	s.mu.Lock()
	v := s.vms[in.vm()]
	if v == nil || !v.shown(time.Now()) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, msgVMNotFound)
		return
	}
	if v.State == VMDeleting {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "VM is being deleted")
		return
	}
	ref := fn(v)
	if ref == nil {
		v.UpdatedAt = time.Now()
	}
	s.mu.Unlock()
	if ref != nil {
		writeErrorCode(w, ref.httpStatus, ref.code, ref.msg)
		return
	}
	writeBool(w, true)
}

func (v *vmRef) vm() string { return v.VMIdentifier }

// handlePower serves POST {prefix}/vm/start, /vm/stop and /vm/restart with {vmIdentifier}. They are idempotent;
// restart of a stopped VM starts it. A VM still booting (Faults.BootListedUnpowered) is powering on anyway:
// start and restart are accepted and change nothing, stop is refused.
func (s *Simulator) handlePower(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.withVM(w, r, &vmRef{}, func(v *VM) string {
			if v.State == VMBooting {
				if action == "stop" {
					return msgVMProvisioning
				}
				return ""
			}
			switch action {
			case "stop":
				v.State = VMStopped
			case "start":
				if v.State != VMRunning {
					v.State, v.PoweredAt = VMRunning, time.Now()
				}
			case "restart":
				v.State, v.PoweredAt = VMRunning, time.Now()
				v.Restarts++
			}
			return ""
		})
	}
}

// handleVMStatus serves GET {prefix}/vm/status/{identifier}: {status: "running"|"stopped"|"deleting"|"booting", power,
// uptime (seconds), cpu (percent), ram and ssd (plan sizes)}.
func (s *Simulator) handleVMStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.vms[r.PathValue("identifier")]
	if v == nil || !v.shown(time.Now()) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, msgVMNotFound)
		return
	}
	uptime := 0
	if v.State == VMRunning {
		uptime = int(time.Since(v.PoweredAt).Seconds())
	}
	data := map[string]any{
		"vmIdentifier": v.Identifier, "status": string(v.State), "power": b2i(v.State == VMRunning),
		"uptime": uptime, "cpu": 2 * b2i(v.State == VMRunning), "ram": v.RAM, "ssd": v.SSD,
	}
	s.mu.Unlock()
	writeObject(w, data)
}

type addTagsRequest struct {
	vmRef
	Tags []string `json:"tags"`
}

// handleAddTags serves POST {prefix}/vm/addtags {vmIdentifier, tags}: tags are added (not replaced).
func (s *Simulator) handleAddTags(w http.ResponseWriter, r *http.Request) {
	in := &addTagsRequest{}
	s.withVM(w, r, in, func(v *VM) string {
		tags := uniqueStrings(in.Tags)
		if len(tags) == 0 {
			return "tags are required"
		}
		v.Tags = uniqueStrings(append(v.Tags, tags...))
		s.registerTagsLocked(tags)
		return ""
	})
}

type vmSSHKeyRequest struct {
	vmRef
	SSHKeyIdentifier string `json:"sshKeyIdentifier"`
}

// handleVMSSHKey serves POST {prefix}/vm/sshkey {vmIdentifier, sshKeyIdentifier}.
func (s *Simulator) handleVMSSHKey(w http.ResponseWriter, r *http.Request) {
	in := &vmSSHKeyRequest{}
	s.withVM(w, r, in, func(v *VM) string {
		if s.sshKeyLocked(in.SSHKeyIdentifier) == nil {
			return "SSH key not found"
		}
		v.SSHKeyIdentifier = in.SSHKeyIdentifier
		return ""
	})
}

type vmScriptRequest struct {
	vmRef
	ScriptIdentifier string `json:"scriptIdentifier"`
}

// handleVMScript serves POST {prefix}/vm/script {vmIdentifier, scriptIdentifier}: the run is recorded.
func (s *Simulator) handleVMScript(w http.ResponseWriter, r *http.Request) {
	in := &vmScriptRequest{}
	s.withVM(w, r, in, func(v *VM) string {
		if s.scriptLocked(in.ScriptIdentifier) == nil {
			return "Script not found"
		}
		v.ScriptsRun = append(v.ScriptsRun, in.ScriptIdentifier)
		return ""
	})
}
