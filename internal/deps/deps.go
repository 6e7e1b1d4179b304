package deps
import (
 _ "golang.org/x/crypto/cryptobyte"
 _ "golang.org/x/crypto/blowfish"
 _ "golang.org/x/crypto/cast5"
 _ "go.uber.org/zap"
 _ "filippo.io/bigmod"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/vishvananda/netlink"
 _ "github.com/strongswan/govici/vici"
)
