#ifndef MONOREPO_CC_GREETING_H_
#define MONOREPO_CC_GREETING_H_

#include <string>

std::string Greeting(const std::string& linkage);

#endif  // MONOREPO_CC_GREETING_H_
