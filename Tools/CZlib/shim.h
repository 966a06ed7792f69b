// System zlib (zlib1g-dev), used by ShopifySchema's gunzip.
#include <zlib.h>
