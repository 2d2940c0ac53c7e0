! test_fortran.f90 — the Fortran module against the C API: a network
! created, run, trained, run again, saved and loaded, its outputs written
! to the file named by the first argument, for reference.c's to be
! compared with bit for bit; and the errors a Fortran program sees.
program test_fortran
  use mlp
  use, intrinsic :: iso_c_binding
  implicit none
  type(mlp_network) :: net, back
  type(mlp_train_opts) :: opts
  real(c_float) :: x(4, 10), y(3, 10), out(3, 10), again(3, 10)
  character(len=256) :: message, path
  integer :: status, i, j, unit

  call get_command_argument(1, path)
  do j = 1, 10
    do i = 1, 4
      x(i, j) = real(mod(i * 7 + j * 3, 11), c_float) / 10.0 - 0.5
    end do
    y(:, j) = 0
    y(mod(j, 3) + 1, j) = 1
  end do
  open(newunit=unit, file=trim(path), access='stream', form='unformatted', &
       status='replace')

  call mlp_create(net, [4, 8, 3], "relu,softmax", 7_c_int64_t, status)
  call check(status == MLP_OK, "create")
  call check(mlp_inputs(net) == 4 .and. mlp_outputs(net) == 3, "widths")
  call mlp_run(net, x, out, status)
  call check(status == MLP_OK, "run")
  write(unit) out

  opts = mlp_train_defaults()
  call check(opts%struct_size > 0, "the options' layout is the library's")
  opts%loss = MLP_LOSS_XENT
  opts%epochs = 5
  opts%batch_size = 5
  opts%seed = 3
  call mlp_train(net, x, y, opts, status)
  call check(status == MLP_OK, "train")
  call mlp_run(net, x, out, status)
  write(unit) out
  close(unit)

  call mlp_save(net, "fortran.safetensors", status, message)
  call check(status == MLP_OK, "save")
  call mlp_load(back, "fortran.safetensors", status, message)
  call check(status == MLP_OK, "load")
  call mlp_run(back, x, again, status)
  call check(all(transfer(again, [0_c_int32_t]) == transfer(out, [0_c_int32_t])), &
             "a saved and loaded network gives the same outputs, bit for bit")

  ! Errors: a status and, for files, the library's message.
  call mlp_load(back, "no-such-file.safetensors", status, message)
  call check(status /= MLP_OK, "a missing file")
  call check(index(message, "no-such-file.safetensors") > 0, "its message")
  call check(trim(mlp_status_text(status)) == "input/output error", "the status text")
  call mlp_run(net, x(1:3, :), out, status)
  call check(status /= MLP_OK, "inputs of the wrong width")
  call mlp_create(net, [4, 3], "swish", 1_c_int64_t, status)
  call check(status /= MLP_OK, "an unknown activation")
  call mlp_free(net)
  call mlp_free(back)
  print '(a)', "Fortran module: all checks passed"

contains

  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(len=*), intent(in) :: what
    if (.not. ok) then
      print '(a, a)', "FAIL: ", what
      stop 1
    end if
  end subroutine

end program test_fortran
