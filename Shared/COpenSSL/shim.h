#ifndef STOCKWIRE_COPENSSL_SHIM_H
#define STOCKWIRE_COPENSSL_SHIM_H
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#endif
