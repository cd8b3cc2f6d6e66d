// Byte-exact .npy files written by numpy 1.24.2 (numpy.save, or
// numpy.lib.format.write_array for explicit versions), embedded so the tests
// need no Python. Regenerate with, for each array `a` below:
//   b = io.BytesIO(); np.save(b, a)   # or fmt.write_array(b, a, version=(2, 0))
// and print b.getvalue() as a C string literal.
#pragma once

#include <string>

namespace sextant::io::fixtures {

// np.arange(6, dtype='<f4').reshape(2, 3) * 0.5 - 1
inline const std::string kNumpyF32_2x3 = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (2, "
    "3), }                                                          \012\000\000"
    "\200\277\000\000\000\277\000\000\000\000\000\000\000\077\000\000\200\077\000"
    "\000\300\077",
    152);

// np.array([[1, -2.5, 65504], [6e-8, np.inf, 0.1]], dtype="<f2")
inline const std::string kNumpyF16_2x3 = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f2', 'fortran_order': False, 'shape': (2, "
    "3), }                                                          \012\000<\000"
    "\301\377{\001\000\000|f.",
    140);

// np.array([0.1, -1e40, 3.0], dtype="<f8")
inline const std::string kNumpyF64_3 = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f8', 'fortran_order': False, 'shape': (3,)"
    ", }                                                            \012\232\231"
    "\231\231\231\231\271\077\245\\\303\361)c=\310\000\000\000\000\000\000\010@",
    152);

// np.array([[1.5, 2.5]], dtype="<f4"), format version 2.0
inline const std::string kNumpyF32V2 = std::string(
    "\223NUMPY\002\000t\000\000\000{'descr': '<f4', 'fortran_order': False, 'shap"
    "e': (1, 2), }                                                        \012"
    "\000\000\300\077\000\000 @",
    136);

// np.array([[1.5], [2.5]], dtype="<f4"), format version 3.0
inline const std::string kNumpyF32V3 = std::string(
    "\223NUMPY\003\000t\000\000\000{'descr': '<f4', 'fortran_order': False, 'shap"
    "e': (2, 1), }                                                        \012"
    "\000\000\300\077\000\000 @",
    136);

// np.array([0, -1, 2**40, 7], dtype="<i8")
inline const std::string kNumpyI64_4 = std::string(
    "\223NUMPY\001\000v\000{'descr': '<i8', 'fortran_order': False, 'shape': (4,)"
    ", }                                                            \012\000\000"
    "\000\000\000\000\000\000\377\377\377\377\377\377\377\377\000\000\000\000\000"
    "\001\000\000\007\000\000\000\000\000\000\000",
    160);

// np.zeros((0, 5), dtype="<f4")
inline const std::string kNumpyF32Empty0x5 = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (0, "
    "5), }                                                          \012",
    128);

// np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3))
inline const std::string kNumpyF32Fortran = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3"
    "), }                                                           \012\000\000"
    "\000\000\000\000@@\000\000\200\077\000\000\200@\000\000\000@\000\000\240@",
    152);

// np.zeros((1, 2, 3), dtype="<f4")
inline const std::string kNumpyF32_3d = std::string(
    "\223NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shape': (1, "
    "2, 3), }                                                       \012\000\000"
    "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
    "\000\000\000",
    152);

// np.zeros((1, 2), dtype=">f4")
inline const std::string kNumpyF32BigEndian = std::string(
    "\223NUMPY\001\000v\000{'descr': '>f4', 'fortran_order': False, 'shape': (1, "
    "2), }                                                          \012\000\000"
    "\000\000\000\000\000\000",
    136);

}  // namespace sextant::io::fixtures
