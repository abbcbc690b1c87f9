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

package vpsie

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file holds the VPSie response envelope and the tolerant scalar types. VPSie's answers
// are inconsistent across endpoints and versions (ints that arrive as strings, nullable
// strings, ids that are numbers in one place and strings in another, lists that arrive as
// [...] or {rows,count}); decoding must never fail the whole answer because of one odd field.

// Int is an integer that also decodes from a JSON string ("12"), a float (12.0), a bool and
// null. Unparsable values decode as 0 rather than failing the whole object.
type Int int64

// UnmarshalJSON implements json.Unmarshaler tolerantly. A value outside int64 (1e19, "NaN") is unparsable,
// not wrapped around: a plan's memory must never turn negative.
func (i *Int) UnmarshalJSON(b []byte) error {
	if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil {
		*i = Int(n) // exact, also beyond the 2^53 a float64 holds
		return nil
	}
	f, _ := parseNumber(b)
	if f >= -(1<<63) && f < 1<<63 {
		*i = Int(int64(f))
	} else {
		*i = 0
	}
	return nil
}

// Float is a float64 that also decodes from a JSON string ("5.00"), a bool and null.
type Float float64

// UnmarshalJSON implements json.Unmarshaler tolerantly.
func (f *Float) UnmarshalJSON(b []byte) error {
	v, _ := parseNumber(b)
	*f = Float(v)
	return nil
}

// parseNumber reads a number from any JSON scalar; ok is false when nothing numeric was found.
func parseNumber(b []byte) (float64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return 0, false
	}
	switch string(b) {
	case "true":
		return 1, true
	case "false":
		return 0, true
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return float64(n), true
	}
	// NaN and the infinities are no quantity VPSie could mean, and they cannot be encoded again.
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return v, true
	}
	return 0, false
}

// String is a string that also decodes from null (""), numbers and booleans (their literal
// text) and, as a last resort, objects and arrays (their compact JSON text).
type String string

// UnmarshalJSON implements json.Unmarshaler tolerantly.
func (s *String) UnmarshalJSON(b []byte) error {
	*s = String(scalarText(b))
	return nil
}

// String returns the plain string (so a String satisfies fmt.Stringer).
func (s String) String() string { return string(s) }

// ID is an identifier that VPSie sends as a number in some answers and as a string in others
// (vpcId, privateIpId, project ids). It always holds the decimal or string form.
type ID string

// UnmarshalJSON implements json.Unmarshaler tolerantly.
func (id *ID) UnmarshalJSON(b []byte) error {
	*id = ID(scalarText(b))
	return nil
}

// String returns the plain string.
func (id ID) String() string { return string(id) }

// Int64 returns the identifier as a number when it is one.
func (id ID) Int64() (int64, bool) {
	n, err := strconv.ParseInt(string(id), 10, 64)
	return n, err == nil
}

// Before orders identifiers oldest first: numerically when both are numbers (VPSie counts them up), else as
// text. Callers that pick one of several resources of a name sort by it, so every reconcile picks the same.
func (id ID) Before(other ID) bool {
	a, aok := id.Int64()
	b, bok := other.Int64()
	if aok && bok {
		return a < b
	}
	return id < other
}

func scalarText(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			return s
		}
	}
	if b[0] == '{' || b[0] == '[' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err == nil {
			return buf.String()
		}
	}
	return string(b)
}

// Flag is a boolean that VPSie wants as the STRING "1" or "0": numbers are silently ignored by
// the create-VM endpoint, so Flag always marshals to a string. It decodes from "1"/"0",
// 1/0, true/false and "true"/"false".
type Flag bool

// MarshalJSON implements json.Marshaler.
func (f Flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte(`"1"`), nil
	}
	return []byte(`"0"`), nil
}

// UnmarshalJSON implements json.Unmarshaler tolerantly.
func (f *Flag) UnmarshalJSON(b []byte) error {
	*f = Flag(truthy(b))
	return nil
}

func truthy(b []byte) bool {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)) {
	case "", "0", "false", "null", "no":
		return false
	}
	return true
}

// envelope is VPSie's answer wrapper: {"error":false,"data":...,"total":N} or
// {"error":true,"code":N,"message":"..."}. Fields are kept raw and read tolerantly: "error"
// has been seen as a string, "message" might not be a string.
type envelope struct {
	Error   json.RawMessage `json:"error"`
	Code    Int             `json:"code"`
	Message String          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Total   Int             `json:"total"`
}

// response is a successful answer: the raw data and the announced total.
type response struct {
	status int
	data   json.RawMessage
	total  int
	// empty is a 2xx without a body: success for a mutation, but no answer to a read.
	empty bool
}

// maxBodyBytes bounds how much of an answer is read; VPSie answers are small.
const maxBodyBytes = 16 << 20

// interpret turns one HTTP answer into data or a classified *Error. It looks at the body as
// well as the status: VPSie answers HTTP 200 with "error":true, and gateways answer 5xx with
// HTML.
func interpret(op string, status int, hdr http.Header, body []byte, now time.Time) (*response, *Error) {
	trimmed := bytes.TrimSpace(body)
	retryAfter := parseRetryAfter(hdr.Get("Retry-After"), now)
	success := status >= 200 && status < 300
	if status == http.StatusNoContent || (success && len(trimmed) == 0) {
		return &response{status: status, empty: true}, nil
	}
	fail := func(code int, msg string, isJSON bool) *Error {
		if msg == "" && !success {
			msg = http.StatusText(status)
		}
		if msg == "" {
			// An error must say something: HTTP 520 has no standard text, and "OK" would be a lie.
			msg = fmt.Sprintf("VPSie answered an error without a message (HTTP %d)", status)
		}
		return &Error{
			Operation: op, HTTPStatus: status, Code: code, Message: msg, RetryAfter: retryAfter,
			Class: classify(classifyInput{Status: status, Code: code, Message: msg, JSON: isJSON}),
		}
	}
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || !json.Valid(trimmed) {
		if success {
			// A 2xx that is not JSON is a proxy or captive page, never a VPSie answer:
			// treating it as "no data" could make a live server look deleted.
			e := fail(0, "unexpected non-JSON answer", false)
			e.Class = ClassTransient
			return nil, e
		}
		return nil, fail(0, fmt.Sprintf("%s (non-JSON body)", http.StatusText(status)), false)
	}
	if trimmed[0] == '[' {
		if !success {
			return nil, fail(0, "", true)
		}
		return &response{status: status, data: trimmed}, nil
	}
	var env envelope
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &keys); err != nil {
		return nil, fail(0, "undecodable answer", false)
	}
	_ = json.Unmarshal(trimmed, &env) // tolerant field types: cannot fail on valid JSON objects
	isErr := len(env.Error) > 0 && truthy(env.Error)
	msg := string(env.Message)
	code := int(env.Code)
	if isErr && msg == "" {
		switch env.Error[0] {
		case '"': // {"error":"Unauthorized"}
			msg = scalarText(env.Error)
		case '{': // {"error":{"code":400,"message":"..."}}
			var inner struct {
				Code    Int    `json:"code"`
				Message String `json:"message"`
			}
			_ = json.Unmarshal(env.Error, &inner)
			msg = string(inner.Message)
			if code == 0 {
				code = int(inner.Code)
			}
		}
	}
	if isErr || !success {
		return nil, fail(code, msg, true)
	}
	res := &response{status: status, data: env.Data, total: int(env.Total)}
	if _, hasData := keys["data"]; !hasData {
		if _, hasErr := keys["error"]; !hasErr {
			res.data = trimmed // a bare object: the object is the data
		}
	}
	return res, nil
}

// maxRetryAfter is the longest wait a Retry-After header is read as: beyond it the header is bogus, and a
// wait computed from it must neither overflow into a negative duration nor park a reconcile for days.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP date, at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs > 0) { // also NaN
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// isAbsent reports whether data means "nothing": missing, null or false.
func isAbsent(data json.RawMessage) bool {
	d := bytes.TrimSpace(data)
	return len(d) == 0 || string(d) == "null" || string(d) == "false"
}

// errEmptyAnswer is a read answered 2xx without a body. VPSie says "nothing" with data:false, null or [];
// an empty body is a proxy's or a cut connection's, and read as "not found" or "no servers" it could make a
// live server look deleted or a create look needed.
func errEmptyAnswer(op string, res *response) *Error {
	return &Error{Operation: op, HTTPStatus: res.status, Class: ClassTransient, Message: "empty answer where data was expected"}
}

// decodeObject decodes one object; data:false/null (how VPSie says "no such object" on some
// GETs) becomes a NotFound error.
func decodeObject(op string, res *response, out any) error {
	if res.empty {
		return errEmptyAnswer(op, res)
	}
	if isAbsent(res.data) {
		return &Error{Operation: op, HTTPStatus: res.status, Class: ClassNotFound, Message: "object not found (empty data)"}
	}
	if err := json.Unmarshal(res.data, out); err != nil {
		return &Error{Operation: op, HTTPStatus: res.status, Class: ClassTerminal, Message: "undecodable answer", Err: err}
	}
	return nil
}

// decodeList decodes a list that may arrive as [...], as {rows:[...],count:N}, as
// {data:[...]}, nested as [[...]] (pending load balancers) or as null/false (empty). It
// returns the items and the total announced by the answer (0 when none).
func decodeList[T any](op string, res *response) ([]T, int, error) {
	if res.empty {
		return nil, 0, errEmptyAnswer(op, res)
	}
	items, count, err := decodeListData[T](res.data)
	if err != nil {
		return nil, 0, &Error{Operation: op, HTTPStatus: res.status, Class: ClassTerminal, Message: "undecodable list", Err: err}
	}
	total := res.total
	if total == 0 {
		total = count
	}
	return items, total, nil
}

// maxListNesting is how deep list wrappers may nest ([[...]], {rows:{data:[...]}}): the shapes VPSie uses
// need two levels. Each level parses its content again, so unbounded nesting made a hostile 80 KB answer cost
// seconds of CPU.
const maxListNesting = 4

func decodeListData[T any](data json.RawMessage) ([]T, int, error) {
	return decodeListNested[T](data, 0)
}

func decodeListNested[T any](data json.RawMessage, depth int) ([]T, int, error) {
	if depth > maxListNesting {
		return nil, 0, fmt.Errorf("list nested deeper than %d levels", maxListNesting)
	}
	d := bytes.TrimSpace(data)
	if isAbsent(d) {
		return nil, 0, nil
	}
	switch d[0] {
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(d, &raw); err != nil {
			return nil, 0, err
		}
		out := make([]T, 0, len(raw))
		for _, r := range raw {
			r = bytes.TrimSpace(r)
			if len(r) > 0 && r[0] == '[' {
				nested, _, err := decodeListNested[T](r, depth+1)
				if err != nil {
					return nil, 0, err
				}
				out = append(out, nested...)
				continue
			}
			if isAbsent(r) {
				continue
			}
			var item T
			if err := json.Unmarshal(r, &item); err != nil {
				return nil, 0, err
			}
			out = append(out, item)
		}
		return out, 0, nil
	case '{':
		var wrapper struct {
			Rows  json.RawMessage `json:"rows"`
			Data  json.RawMessage `json:"data"`
			Count Int             `json:"count"`
			Total Int             `json:"total"`
		}
		if err := json.Unmarshal(d, &wrapper); err != nil {
			return nil, 0, err
		}
		inner := wrapper.Rows
		if inner == nil {
			inner = wrapper.Data
		}
		if inner == nil {
			return nil, 0, fmt.Errorf("object without rows or data where a list was expected")
		}
		items, _, err := decodeListNested[T](inner, depth+1)
		count := int(wrapper.Count)
		if count == 0 {
			count = int(wrapper.Total)
		}
		return items, count, err
	}
	return nil, 0, fmt.Errorf("unexpected list shape %.20q", string(d))
}
