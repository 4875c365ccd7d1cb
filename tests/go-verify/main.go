// go-verify checks medtrail's checkpoints, receipts and consistency proofs with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog: an implementation of signed
// notes and RFC 6962/9162 Merkle proofs that shares no code with medtrail. The e2e suite
// tests/e2e/interop.sh builds it offline against Debian's golang-golang-x-mod-dev.
//
// Usage: go-verify checkpoint|receipt|consistency VKEY FILE...
// Prints "ok FILE" per file that verifies, "FAIL FILE: reason" otherwise; exits 1 on any FAIL.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	note   *note.Note
}

// openCheckpoint verifies a C2SP checkpoint (a signed note) and parses its body.
func openCheckpoint(text string, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open([]byte(text), note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("signed note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("checkpoint body is not origin, size, root")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return checkpoint{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	cp := checkpoint{origin: lines[0], size: size, note: n}
	copy(cp.root[:], root)
	return cp, nil
}

// canonical re-encodes decoded JSON with sorted keys, no HTML escaping and numbers as
// written. That is RFC 8785 for what medtrail's envelopes and block headers hold (integers
// and strings without control characters); it is not a general JCS implementation.
func canonical(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decodeJSON(data []byte) (map[string]interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]interface{}
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func hexHashes(v interface{}) ([]tlog.Hash, error) {
	list, ok := v.([]interface{})
	if !ok {
		return nil, errors.New("proof is not an array")
	}
	var out []tlog.Hash
	for _, item := range list {
		s, _ := item.(string)
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %q", s)
		}
		var h tlog.Hash
		copy(h[:], b)
		out = append(out, h)
	}
	return out, nil
}

func number(v interface{}) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return n.Int64()
}

func str(v interface{}) string {
	s, _ := v.(string)
	return s
}

func verifyCheckpoint(data []byte, verifier note.Verifier) error {
	_, err := openCheckpoint(string(data), verifier)
	return err
}

// verifyTlogProof checks a c2sp.org/tlog-proof@v1 whose extra line holds the record.
func verifyTlogProof(data []byte, verifier note.Verifier) error {
	text := string(data)
	header := "c2sp.org/tlog-proof@v1\n"
	if !strings.HasPrefix(text, header) {
		return errors.New("not a tlog-proof")
	}
	text = text[len(header):]
	sep := strings.Index(text, "\n\n")
	if sep < 0 {
		return errors.New("no empty line before the checkpoint")
	}
	lines := strings.Split(text[:sep], "\n")
	cpText := text[sep+2:]
	var extra []byte
	if strings.HasPrefix(lines[0], "extra ") {
		var err error
		if extra, err = base64.StdEncoding.DecodeString(lines[0][6:]); err != nil {
			return fmt.Errorf("extra: %v", err)
		}
		lines = lines[1:]
	}
	if extra == nil {
		return errors.New("no extra line with the record")
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return errors.New("no index line")
	}
	index, err := strconv.ParseInt(lines[0][6:], 10, 64)
	if err != nil {
		return fmt.Errorf("index: %v", err)
	}
	var proof tlog.RecordProof
	for _, l := range lines[1:] {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(b) != tlog.HashSize {
			return fmt.Errorf("proof line %q", l)
		}
		var h tlog.Hash
		copy(h[:], b)
		proof = append(proof, h)
	}
	cp, err := openCheckpoint(cpText, verifier)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(extra))
}

// verifyJSONReceipt checks medtrail's JSON receipt: leaf hash, inclusion, checkpoint, block.
func verifyJSONReceipt(data []byte, verifier note.Verifier) error {
	r, err := decodeJSON(data)
	if err != nil {
		return err
	}
	record, err := canonical(r["record"])
	if err != nil {
		return err
	}
	leaf := tlog.RecordHash(record)
	if hex.EncodeToString(leaf[:]) != str(r["leaf_hash"]) {
		return errors.New("the record does not hash to leaf_hash")
	}
	index, err := number(r["leaf_index"])
	if err != nil {
		return err
	}
	size, err := number(r["tree_size"])
	if err != nil {
		return err
	}
	proof, err := hexHashes(r["inclusion"])
	if err != nil {
		return err
	}
	cp, err := openCheckpoint(str(r["checkpoint"]), verifier)
	if err != nil {
		return err
	}
	if cp.size != size {
		return errors.New("tree_size differs from the checkpoint's")
	}
	if err := tlog.CheckRecord(proof, cp.size, cp.root, index, leaf); err != nil {
		return fmt.Errorf("inclusion: %v", err)
	}
	block, _ := r["block"].(map[string]interface{})
	header, _ := block["header"].(map[string]interface{})
	canonicalHeader, err := canonical(header)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(canonicalHeader)
	if hex.EncodeToString(digest[:]) != str(block["hash"]) {
		return errors.New("block hash does not match its header")
	}
	if str(header["log_root"]) != hex.EncodeToString(cp.root[:]) || str(header["origin"]) != cp.origin {
		return errors.New("block header and checkpoint disagree")
	}
	signatures, _ := block["signatures"].([]interface{})
	for _, s := range signatures {
		entry, _ := s.(map[string]interface{})
		sig, err := base64.StdEncoding.DecodeString(str(entry["sig"]))
		if err == nil && verifier.Verify(canonicalHeader, sig) {
			return nil
		}
	}
	return errors.New("block is not signed by the authority")
}

func verifyReceipt(data []byte, verifier note.Verifier) error {
	if bytes.HasPrefix(data, []byte("c2sp.org/tlog-proof@v1\n")) {
		return verifyTlogProof(data, verifier)
	}
	return verifyJSONReceipt(data, verifier)
}

// verifyConsistency checks `medtrail prove --consistency-from` output with tlog.CheckTree.
func verifyConsistency(data []byte, verifier note.Verifier) error {
	p, err := decodeJSON(data)
	if err != nil {
		return err
	}
	oldCp, err := openCheckpoint(str(p["old_checkpoint"]), verifier)
	if err != nil {
		return fmt.Errorf("old checkpoint: %v", err)
	}
	newCp, err := openCheckpoint(str(p["checkpoint"]), verifier)
	if err != nil {
		return fmt.Errorf("new checkpoint: %v", err)
	}
	oldSize, err := number(p["old_size"])
	if err != nil {
		return err
	}
	newSize, err := number(p["new_size"])
	if err != nil {
		return err
	}
	if oldSize != oldCp.size || newSize != newCp.size || oldCp.origin != newCp.origin {
		return errors.New("sizes or origins differ from the checkpoints'")
	}
	proof, err := hexHashes(p["consistency"])
	if err != nil {
		return err
	}
	return tlog.CheckTree(proof, newCp.size, newCp.root, oldCp.size, oldCp.root)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go-verify checkpoint|receipt|consistency VKEY FILE...")
		os.Exit(2)
	}
	checks := map[string]func([]byte, note.Verifier) error{
		"checkpoint":  verifyCheckpoint,
		"receipt":     verifyReceipt,
		"consistency": verifyConsistency,
	}
	check, ok := checks[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "go-verify: unknown check %q\n", os.Args[1])
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-verify: vkey: %v\n", err)
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[3:] {
		data, err := os.ReadFile(path)
		if err == nil {
			err = check(data, verifier)
		}
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", path, err)
			failed = true
		} else {
			fmt.Printf("ok %s\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}
