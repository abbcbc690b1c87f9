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
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
)

// ReadPart is one part of user data as cloud-init reads it.
type ReadPart struct {
	ContentType, MergeType, Filename, TransferEncoding string
	Body                                               []byte
}

// Read reads user data the way cloud-init does, the inverse of Build and Fit, for tests and diagnostics:
// gzip is undone, a MIME multipart message is split into its parts (base64 bodies decoded), and anything else
// is one part typed by its first line. It uses the standard library's MIME readers, not Build's writer.
func Read(data []byte) ([]ReadPart, error) {
	data, err := gunzip(data)
	if err != nil {
		return nil, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil || msg.Header.Get("Content-Type") == "" {
		ct, err := contentType(data)
		if err != nil {
			return nil, err
		}
		return []ReadPart{{ContentType: ct, Body: data}}, nil
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("user data's Content-Type: %w", err)
	}
	if mediaType != "multipart/mixed" {
		return nil, fmt.Errorf("user data is %q, not multipart/mixed", mediaType)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var parts []ReadPart
	for {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", len(parts), err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", len(parts), err)
		}
		enc := p.Header.Get("Content-Transfer-Encoding")
		if enc == "base64" {
			if body, err = base64.StdEncoding.DecodeString(string(bytes.ReplaceAll(body, []byte("\r\n"), nil))); err != nil {
				return nil, fmt.Errorf("part %d: %w", len(parts), err)
			}
		}
		if body, err = gunzip(body); err != nil {
			return nil, fmt.Errorf("part %d: %w", len(parts), err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts = append(parts, ReadPart{ContentType: ct, MergeType: p.Header.Get("Merge-Type"), Filename: p.FileName(),
			TransferEncoding: enc, Body: body})
	}
}

// gunzip undoes gzip when data starts with its magic bytes.
func gunzip(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("user data looks gzip-compressed but is not: %w", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("user data looks gzip-compressed but is not: %w", err)
	}
	return plain, nil
}
