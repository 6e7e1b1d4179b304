package isakmp

import "errors"

// Sentinel errors of the decoder and of message protection. Decoders wrap
// them with context (fmt.Errorf("...: %w", Err...)), so test with errors.Is.
// Each maps naturally to a notify type: most to PAYLOAD-MALFORMED, the
// version errors to INVALID-MAJOR/MINOR-VERSION, ErrInvalidFlags to
// INVALID-FLAGS, proposal structure errors to BAD-PROPOSAL-SYNTAX.
var (
	// ErrShortHeader: fewer than the 28 bytes of an ISAKMP header.
	ErrShortHeader = errors.New("isakmp: message shorter than the ISAKMP header")
	// ErrInvalidMajorVersion: major version is not 1.
	ErrInvalidMajorVersion = errors.New("isakmp: invalid major version")
	// ErrInvalidMinorVersion: minor version is not 0.
	ErrInvalidMinorVersion = errors.New("isakmp: invalid minor version")
	// ErrInvalidFlags: a flag bit not defined by RFC 2408 is set.
	ErrInvalidFlags = errors.New("isakmp: undefined header flag set")
	// ErrLengthMismatch: the header length differs from the datagram length.
	ErrLengthMismatch = errors.New("isakmp: header length does not match datagram length")
	// ErrMessageTooLong: a message to encode exceeds MaxMessageSize.
	ErrMessageTooLong = errors.New("isakmp: message too long")
	// ErrPayloadLength: a payload length is below its header or runs past the data.
	ErrPayloadLength = errors.New("isakmp: invalid payload length")
	// ErrShortPayload: a payload body is shorter than its fixed fields.
	ErrShortPayload = errors.New("isakmp: payload shorter than its fixed fields")
	// ErrTrailingData: bytes are left over after a structure that defines its own end.
	ErrTrailingData = errors.New("isakmp: trailing data")
	// ErrTruncatedChain: the data ended while the chain announced another payload.
	ErrTruncatedChain = errors.New("isakmp: payload chain truncated")
	// ErrReservedNotZero: a RESERVED field is not zero. RFC 2408, 3.2-3.6
	// has senders set them to 0; strongSwan's parser skips them unread. We
	// reject them, which costs no known peer anything and keeps the rule
	// that an accepted message re-encodes to exactly its bytes (the fuzz
	// property), so a HASH over re-encoded payloads cannot differ from one
	// over received bytes.
	ErrReservedNotZero = errors.New("isakmp: reserved field not zero")
	// ErrTooManyPayloads: the payload chain is longer than MaxPayloads.
	ErrTooManyPayloads = errors.New("isakmp: too many payloads")
	// ErrTooManyProposals: an SA holds more than MaxProposals proposals.
	ErrTooManyProposals = errors.New("isakmp: too many proposals")
	// ErrTooManyTransforms: a proposal holds more than MaxTransforms transforms.
	ErrTooManyTransforms = errors.New("isakmp: too many transforms")
	// ErrTooManyAttributes: a transform holds more than MaxAttributes attributes.
	ErrTooManyAttributes = errors.New("isakmp: too many attributes")
	// ErrTooManySPIs: a Delete payload lists more than MaxDeleteSPIs SPIs.
	ErrTooManySPIs = errors.New("isakmp: too many SPIs")
	// ErrSPISize: an SPI is longer than MaxSPISize or its size disagrees with the data.
	ErrSPISize = errors.New("isakmp: invalid SPI size")
	// ErrNextPayload: a proposal or transform has a next payload value other than
	// the one RFC 2408, 3.5 and 3.6 allow, or a top-level payload is a P or T.
	ErrNextPayload = errors.New("isakmp: invalid next payload")
	// ErrTransformCount: the number of transforms differs from the proposal's count.
	ErrTransformCount = errors.New("isakmp: number of transforms does not match")
	// ErrNoProposal: an SA payload has no proposal, or a proposal no transform.
	ErrNoProposal = errors.New("isakmp: SA payload without proposal or transform")
	// ErrAttributeLength: a data attribute runs past its transform.
	ErrAttributeLength = errors.New("isakmp: invalid data attribute length")
	// ErrAttributeTooLong: a value to encode does not fit a TLV attribute.
	ErrAttributeTooLong = errors.New("isakmp: attribute value too long")
	// ErrPayloadTooLong: a payload to encode exceeds 65535 bytes.
	ErrPayloadTooLong = errors.New("isakmp: payload too long")
	// ErrAddressLength: an address in an ID or NAT-OA payload has the wrong length.
	ErrAddressLength = errors.New("isakmp: invalid address length")
	// ErrIDType: an ID helper was used on an ID of another type.
	ErrIDType = errors.New("isakmp: unexpected identification type")
	// ErrIVSize: the IV length differs from the cipher block size.
	ErrIVSize = errors.New("isakmp: IV length differs from block size")
	// ErrCiphertextLength: the encrypted body is empty or not a multiple of the block size.
	ErrCiphertextLength = errors.New("isakmp: encrypted body length not a multiple of the block size")
)
