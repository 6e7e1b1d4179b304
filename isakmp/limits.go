package isakmp

// Bounds on what the decoder accepts. They are far above anything a real peer
// sends (strongSwan proposes at most a few dozen transforms) and keep a
// hostile datagram from making the decoder allocate without limit.
const (
	// HeaderLen is the length of the ISAKMP header (RFC 2408, 3.1).
	HeaderLen = 28
	// GenericHeaderLen is the length of the generic payload header (RFC 2408, 3.2).
	GenericHeaderLen = 4
	// MaxMessageSize is the largest message: a UDP datagram's payload.
	MaxMessageSize = 65535
	// MaxPayloads caps the payloads of one chain.
	MaxPayloads = 64
	// MaxProposals caps the proposals of one SA payload.
	MaxProposals = 64
	// MaxTransforms caps the transforms of one proposal.
	MaxTransforms = 64
	// MaxAttributes caps the data attributes of one transform.
	MaxAttributes = 64
	// MaxSPISize caps an SPI (ISAKMP SPIs are the 16 bytes of both cookies).
	MaxSPISize = 16
	// MaxDeleteSPIs caps the SPIs of one Delete payload.
	MaxDeleteSPIs = 256
)
