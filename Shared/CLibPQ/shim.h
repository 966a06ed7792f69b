#ifndef STOCKWIRE_CLIBPQ_SHIM_H
#define STOCKWIRE_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
