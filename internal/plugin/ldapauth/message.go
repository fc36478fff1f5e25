package ldapauth

import "fmt"

// startTLSOID names the StartTLS extended operation (RFC 4511 4.14.1).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// LDAP result codes the plugin tells apart (RFC 4511 appendix A).
const (
	resultSuccess            = 0
	resultInvalidCredentials = 49
)

// bindRequest encodes LDAPMessage{id, BindRequest{version 3, dn, simple
// password}}.
func bindRequest(id int32, dn, password string) []byte {
	var op []byte
	op = appendInt(op, tagInteger, 3)
	op = appendString(op, tagOctetString, dn)
	op = appendString(op, tagSimpleAuth, password)
	return message(id, tagBindRequest, op)
}

// startTLSRequest encodes LDAPMessage{id, ExtendedRequest{StartTLS}}.
func startTLSRequest(id int32) []byte {
	return message(id, tagExtendedRequest, appendString(nil, tagRequestName, startTLSOID))
}

func message(id int32, opTag byte, op []byte) []byte {
	var body []byte
	body = appendInt(body, tagInteger, id)
	body = appendTLV(body, opTag, op)
	return appendTLV(make([]byte, 0, len(body)+6), tagSequence, body)
}

// response is what the client reads of an LDAPResult-based answer.
type response struct {
	id         int64
	op         byte // the protocolOp's tag
	resultCode int64
	matchedDN  string
	diagnostic string
}

// parseResponse decodes an LDAPMessage whose protocolOp starts with the
// LDAPResult components (BindResponse, ExtendedResponse, ...). Trailing
// optional parts (referral, SASL credentials, response name, controls)
// are ignored.
func parseResponse(msg []byte) (response, error) {
	var r response
	seq, rest, err := readElement(msg)
	if err != nil {
		return r, err
	}
	if seq.tag != tagSequence || len(rest) != 0 {
		return r, protocolError("answer is not one LDAPMessage")
	}
	id, body, err := readElement(seq.content)
	if err != nil {
		return r, err
	}
	if id.tag != tagInteger {
		return r, protocolError("LDAPMessage without messageID")
	}
	if r.id, err = integer(id.content); err != nil {
		return r, err
	}
	op, _, err := readElement(body)
	if err != nil {
		return r, err
	}
	r.op = op.tag
	code, rest, err := readElement(op.content)
	if err != nil {
		return r, err
	}
	if code.tag != tagEnumerated {
		return r, protocolError(fmt.Sprintf("operation 0x%02x has no resultCode", op.tag))
	}
	if r.resultCode, err = integer(code.content); err != nil {
		return r, err
	}
	dn, rest, err := readElement(rest)
	if err != nil {
		return r, err
	}
	diag, _, err := readElement(rest)
	if err != nil {
		return r, err
	}
	if dn.tag != tagOctetString || diag.tag != tagOctetString {
		return r, protocolError("malformed LDAPResult")
	}
	r.matchedDN, r.diagnostic = string(dn.content), string(diag.content)
	return r, nil
}

// resultError describes a non-success result code.
type resultError struct {
	code       int64
	diagnostic string
}

func (e *resultError) Error() string {
	name := resultNames[e.code]
	if name == "" {
		name = "error"
	}
	if e.diagnostic == "" {
		return fmt.Sprintf("ldap: result %d (%s)", e.code, name)
	}
	return fmt.Sprintf("ldap: result %d (%s): %q", e.code, name, e.diagnostic)
}

// resultNames are the names of the result codes a bind commonly gets.
var resultNames = map[int64]string{
	1:  "operationsError",
	2:  "protocolError",
	7:  "authMethodNotSupported",
	8:  "strongerAuthRequired",
	13: "confidentialityRequired",
	32: "noSuchObject",
	34: "invalidDNSyntax",
	48: "inappropriateAuthentication",
	49: "invalidCredentials",
	50: "insufficientAccessRights",
	51: "busy",
	52: "unavailable",
	53: "unwillingToPerform",
	80: "other",
}
