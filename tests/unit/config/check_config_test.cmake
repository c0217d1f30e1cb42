# Runs `TANDEMD --check-config CONFIG` and checks its exit status
# (EXPECT_EXIT) and that stdout+stderr match the regex EXPECT_OUTPUT.
execute_process(COMMAND ${TANDEMD} --check-config ${CONFIG}
                RESULT_VARIABLE status
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status EQUAL EXPECT_EXIT)
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output does not match: ${EXPECT_OUTPUT}")
endif()
