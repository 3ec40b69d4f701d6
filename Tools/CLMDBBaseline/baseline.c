#include "baseline.h"
int tandem_baseline_placeholder(void){return 0;}
