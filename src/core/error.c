/* cio_strerror / cio_err_name, generated from CIO_ERRNO_MAP, plus the
 * getaddrinfo error mapping. */
#include <netdb.h>
#include <string.h>

#include "core/internal.h"

const char *cio_strerror(int err)
{
    switch (err) {
#define CIO__ERR_MSG(name, value, msg)                                                             \
    case value:                                                                                    \
        return msg;
        CIO_ERRNO_MAP(CIO__ERR_MSG)
#undef CIO__ERR_MSG
    case 0:
        return "success";
    case -ETIMEDOUT:
        /* strerror's "Connection timed out" misleads after a timeout scope. */
        return "timed out";
    default:
        break;
    }
    if (err < 0 && err > -4000)
        return strerror(-err);
    return "unknown error";
}

const char *cio_err_name(int err)
{
    switch (err) {
#define CIO__ERR_NAME(name, value, msg)                                                            \
    case value:                                                                                    \
        return "CIO_" #name;
        CIO_ERRNO_MAP(CIO__ERR_NAME)
#undef CIO__ERR_NAME
    case 0:
        return "0";
    default:
        break;
    }
    if (err < 0 && err > -4000) {
        const char *name = strerrorname_np(-err);
        if (name)
            return name;
    }
    return "UNKNOWN";
}

int cio__eai_to_err(int eai, int saved_errno)
{
    switch (eai) {
    case 0:
        return 0;
    case EAI_AGAIN:
        return CIO_EAI_AGAIN;
    case EAI_BADFLAGS:
        return CIO_EAI_BADFLAGS;
    case EAI_FAIL:
        return CIO_EAI_FAIL;
    case EAI_FAMILY:
        return CIO_EAI_FAMILY;
    case EAI_MEMORY:
        return CIO_EAI_MEMORY;
    case EAI_NONAME:
        return CIO_EAI_NONAME;
    case EAI_SERVICE:
        return CIO_EAI_SERVICE;
    case EAI_SOCKTYPE:
        return CIO_EAI_SOCKTYPE;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return CIO_EAI_NODATA;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return CIO_EAI_ADDRFAMILY;
#endif
    case EAI_SYSTEM:
        return saved_errno > 0 ? -saved_errno : CIO_EAI_SYSTEM;
    default:
        return CIO_EAI_OTHER;
    }
}
