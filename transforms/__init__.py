"""srcad's compiler: libcst passes from a user function's source to the source of its derivatives.

Every stage is Python source that can be printed (``srcad.source(f, stage)``, ``python -m srcad``)
and run. The pipeline, in order (``srcad/pipeline.py`` drives it; a subpackage per stage):

    user function
      |  frontend/   parse -> normalize (inline helpers, canonical spellings, loops over items,
      |              einsum, number lists, in-place overlaps) -> rename -> versions -> single_exit
      v              = the AD-normal form (frontend/normal_form.py), one operation per statement
    normal form
      |  analysis/   infer_types (numba's inference) -> typed rewrites (masks, integer_powers,
      |              hoisted_maps, fused_loops)
      |              -> activity (aliases, shapes, restored_arrays, independent_terms, recompute,
      |              to_be_recorded: what is active, saved, recomputed, reversed term by term)
      v
      +--> reverse/  adjoint: forward sweep + reverse sweep (reserve, first_contributions over
      |              known_zeros, loop_order with indexed_pops and split_additions, recycled_adjoints,
      |              handed_adjoints; carried accumulations from analysis/carried_adjoints; time loops
      |              checkpointed, or keeping every step up to the budget, by checkpoints)
      +--> forward/  tangent (tangent_zeros, fold_tangents)
      +--> kernel/   a @srcad.kernel's module (modules.py): a thread's code (the normal form, or its
      |              adjoint from reverse/) with its CPU launchers, or as a CUDA kernel; access analysis
      v
    output/          dead_stores, unit_steps (loops without broadcast steps where none is 0),
                     rolled_pieces (np.roll's loops split where they wrap), simd_calls and
                     any_order_sums (CPU code: exp/log/tanh and float sums LLVM vectorizes),
                     extent_guards (the equal extents code was made for, checked first), emit: a
                     module with its header, constants and imports

Below every stage: ``ir/`` (the normal form's vocabulary: building statements, reading them as
operations, names, printing with the right parentheses) and, below that, ``rules/`` (the one table
of derivative rules, and the rules of calls that stay calls). Imports point down this list only;
``setup.cfg``'s import-linter contracts check it.
"""
